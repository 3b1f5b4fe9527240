"""A toolset's cheap check that its data source answers, for ``orch-bot doctor``.

Doctor used to keep its own list of AWS calls, client settings and error mapping, and it drifted from
the tools. A :class:`Probe` is declared next to the tools it stands for and runs through the same
:class:`~agents.aws.AwsClients` and :func:`~agents.tools._aws.aws_errors` the tools use, so what passes
here works for the tools, and a denied probe names the IAM action the bot's role lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.tools._aws import GLOBAL_API_REGION, aws_errors

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from agents.aws import AwsClients

__all__ = ["Probe"]


@dataclass(frozen=True, slots=True)
class Probe:
    """One cheap, read-only call that shows whether a data source answers the bot.

        ``service`` is the botocore service name (also the IAM prefix), ``operation`` the client method,
        ``action`` the IAM action it needs, ``params`` its arguments (or a function making them at run time, for
    dates relative to today). ``global_api`` marks APIs that answer only in us-east-1 (Cost
        Explorer, AWS Health); every other probe runs in the bot's region. An optional probe (``required``
        False) stands for a data source the agents can do without; ``optional_because`` says why.
    """

    source: str
    service: str
    operation: str
    action: str
    params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    global_api: bool = False
    required: bool = True
    optional_because: str = ""

    def region(self, aws: AwsClients) -> str:
        """Where the probe runs: the bot's region, or us-east-1 for APIs that live only there."""
        return GLOBAL_API_REGION if self.global_api else aws.region

    async def run(self, aws: AwsClients) -> None:
        """Make the call; :class:`~agents.errors.ToolFailed` (as the tools would raise it) if it fails."""
        with aws_errors(self.source, self.service):
            client = await aws.client(self.service, region=self.region(aws))
            params = self.params() if callable(self.params) else self.params
            await getattr(client, self.operation)(**params)
