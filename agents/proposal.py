"""What a proposed action will do, as the bot found it before anyone approves: the action card's data.

A write tool's ``prepare`` builds a :class:`Proposal` from AWS itself (the resource as described, the
account, the region, the dry-run answer), never from the model's words: the person approving reads what
the bot checked, not what the model claims. It is stored with the approval and rendered by the edge.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Proposal", "ResourceState"]


class ResourceState(BaseModel):
    """One resource the action touches, as described just before the proposal."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    state: str = ""


class Proposal(BaseModel):
    """The action card's content: ``summary`` says exactly what will be done."""

    model_config = ConfigDict(frozen=True)

    action: str
    summary: str
    resources: tuple[ResourceState, ...] = ()
    account: str = ""
    region: str = ""
    dry_run: str = ""
