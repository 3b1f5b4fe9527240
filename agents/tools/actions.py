"""The four AWS actions orch can propose: reboot, stop or start EC2 instances, and set an ECS desired count.

They are ``write`` tools, and the model can only *propose* them: the hook before every tool call
(:class:`agents.approvals.ApprovalGate`) suspends each call until a person approves it on an action card.
Each tool therefore has two halves:

- ``prepare`` runs before anyone approves: it describes the resource (id, Name tag, state; for ECS the
  desired and running counts), asks EC2 for a ``DryRun`` of the exact call, and names the account and
  region. That is the card, written from what AWS said, not from what the model claimed.
- ``run`` runs once, after the approval: it makes the call, then verifies the effect by describing the
  resource until it reaches the expected state (bounded; the clock and sleep are injected), and writes an
  ``audit.action`` line. Its result goes back to the model as the tool result.

Inputs are narrow on purpose: instance ids must look like instance ids, at most :data:`MAX_INSTANCES` per
call, and a desired count between 0 and :data:`MAX_DESIRED_COUNT`. The IAM actions are declared here and
shipped as their own policy, ``iam/orch-bot-actions.json``, apart from the read-only one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import structlog
from pydantic import Field, field_validator

from agents.audit import audit
from agents.errors import ToolFailed
from agents.proposal import Proposal, ResourceState
from agents.tools._aws import aws_errors
from agents.tools._base import Tool, ToolContext, ToolOutput, Toolset
from agents.tools._params import ToolInput
from agents.tools._probe import Probe

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

__all__ = [
    "ACTION_TOOLS",
    "MAX_DESIRED_COUNT",
    "MAX_INSTANCES",
    "Ec2InstancesInput",
    "EcsDesiredCountInput",
    "action_tools",
]

log = structlog.get_logger(__name__)

EC2_SOURCE = "EC2"
ECS_SOURCE = "ECS"
MAX_INSTANCES = 5
MAX_DESIRED_COUNT = 100
_INSTANCE_ID = r"^i-[0-9a-f]{8,17}$"
_ECS_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"


class Ec2InstancesInput(ToolInput):
    """Which instances an EC2 action is for."""

    instance_ids: tuple[Annotated[str, Field(pattern=_INSTANCE_ID)], ...] = Field(
        min_length=1,
        max_length=MAX_INSTANCES,
        description=f"EC2 instance ids (i-…), at most {MAX_INSTANCES}.",
    )

    @field_validator("instance_ids")
    @classmethod
    def _distinct(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(ids)) != len(ids):
            raise ValueError("an instance id is repeated")
        return ids


class EcsDesiredCountInput(ToolInput):
    """Which ECS service gets which desired count."""

    cluster: str = Field(pattern=_ECS_NAME, description="The cluster's name.")
    service: str = Field(pattern=_ECS_NAME, description="The service's name.")
    desired_count: int = Field(ge=0, le=MAX_DESIRED_COUNT, description="The new desired task count.")


#: EC2 action → (client method, states that show it took effect, the verb for people).
_EC2: Mapping[str, tuple[str, frozenset[str], str]] = {
    "ec2.reboot": ("reboot_instances", frozenset({"running"}), "Reboot"),
    "ec2.stop": ("stop_instances", frozenset({"stopping", "stopped"}), "Stop"),
    "ec2.start": ("start_instances", frozenset({"pending", "running"}), "Start"),
}


class _Account:
    """The account id the bot's credentials act in (STS GetCallerIdentity, asked once per process)."""

    def __init__(self) -> None:
        self._id: str | None = None

    async def of(self, ctx: ToolContext) -> str:
        if self._id is None:
            with aws_errors("STS", "sts"):
                sts = await ctx.aws.client("sts")
                self._id = str((await sts.get_caller_identity())["Account"])
        return self._id


class _Verifier:
    """Describes a resource until it shows the action's effect, for at most ``seconds``."""

    def __init__(
        self, *, seconds: float, every: float, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self.seconds, self._every, self._clock, self._sleep = seconds, every, clock, sleep

    async def until(self, look: Callable[[], Awaitable[bool]]) -> bool:
        """Whether ``look`` came true within the bound (it is asked at once, then every ``every`` seconds)."""
        deadline = self._clock() + self.seconds
        while True:
            if await look():
                return True
            if self._clock() >= deadline:
                return False
            await self._sleep(self._every)


async def _instances(ctx: ToolContext, ids: Sequence[str]) -> list[ResourceState]:
    ec2 = await ctx.aws.client("ec2")
    found = await ec2.describe_instances(InstanceIds=list(ids))
    states: dict[str, ResourceState] = {}
    for reservation in found.get("Reservations", ()):
        for raw in reservation.get("Instances", ()):
            tags = {tag["Key"]: tag["Value"] for tag in raw.get("Tags", ())}
            states[raw["InstanceId"]] = ResourceState(
                id=raw["InstanceId"], name=tags.get("Name", ""), state=raw.get("State", {}).get("Name", "unknown")
            )
    missing = [i for i in ids if i not in states]
    if missing:
        raise ToolFailed(source=EC2_SOURCE, reason=f"no such instances in this account and region: {missing}")
    return [states[i] for i in ids]


def _named(resources: Sequence[ResourceState]) -> str:
    return ", ".join(f"{r.id} ({r.name})" if r.name else r.id for r in resources)


def _ec2_tool(action: str, account: _Account, verifier: _Verifier) -> Tool[Ec2InstancesInput]:
    method, effect_states, verb = _EC2[action]

    async def prepare(ctx: ToolContext, request: Ec2InstancesInput) -> Proposal:
        with aws_errors(EC2_SOURCE, "ec2"):
            resources = await _instances(ctx, request.instance_ids)
        return Proposal(
            action=action,
            summary=f"{verb} EC2 instance{'s' if len(resources) > 1 else ''} {_named(resources)}",
            resources=tuple(resources),
            account=await account.of(ctx),
            region=ctx.region,
            dry_run=await _dry_run(ctx, method, request.instance_ids),
        )

    async def run(ctx: ToolContext, request: Ec2InstancesInput) -> ToolOutput:
        asked = f"{action} {' '.join(request.instance_ids)}"
        try:
            with aws_errors(EC2_SOURCE, "ec2"):
                before = await _instances(ctx, request.instance_ids)
                ec2 = await ctx.aws.client("ec2")
                await getattr(ec2, method)(InstanceIds=list(request.instance_ids))
        except ToolFailed as failure:
            _audit(ctx, asked, ok=False, detail=failure.reason)
            raise
        # The call was accepted: the effect is real from here on, whatever the verification finds.
        _audit(ctx, asked, ok=True, detail=f"{verb} requested for {_named(before)}")
        after: list[ResourceState] = before

        async def took_effect() -> bool:
            nonlocal after
            after = await _instances(ctx, request.instance_ids)
            return all(r.state in effect_states for r in after)

        if action == "ec2.reboot":
            verified, outcome = False, "a reboot does not show in the instance state, so it is not verified here"
        elif all(r.state in effect_states for r in before):
            verified, outcome = True, "nothing to change: already in that state before the call"
        else:
            verified = await _verify(verifier, took_effect, EC2_SOURCE, "ec2")
            outcome = "verified" if verified else f"not yet verified after {verifier.seconds:.0f} s"
        changes = "; ".join(f"{b.id}: {b.state} → {a.state}" for b, a in zip(before, after, strict=True))
        result = f"{verb} requested for {_named(before)} ({changes}); {outcome}."
        data = {
            "action": action,
            "done": True,
            "verified": verified,
            "instances": [
                {"id": b.id, "name": b.name, "before": b.state, "after": a.state}
                for b, a in zip(before, after, strict=True)
            ],
            "result": result,
        }
        return ToolOutput(data=data, summary=result)

    return Tool(
        name=action.replace(".", "_"),
        description=(
            f"Propose to {verb.lower()} EC2 instances. A person must approve it on an action card before it "
            "runs; the result says whether it was approved, rejected or expired, and what happened."
        ),
        input_model=Ec2InstancesInput,
        source=EC2_SOURCE,
        effect="write",
        progress=lambda _ctx, request: f"{verb} {', '.join(request.instance_ids)}…",
        run=run,
        action=action,
        prepare=prepare,
    )


async def _dry_run(ctx: ToolContext, method: str, ids: Sequence[str]) -> str:
    """EC2's answer to the exact call with ``DryRun=True``, for the card."""
    try:
        with aws_errors(EC2_SOURCE, "ec2"):
            ec2 = await ctx.aws.client("ec2")
            await getattr(ec2, method)(InstanceIds=list(ids), DryRun=True)
    except ToolFailed as answer:
        if answer.reason.startswith("DryRunOperation"):
            return "would succeed (EC2 DryRun)"
        return f"would fail: {answer.reason}"
    return "would succeed (EC2 DryRun)"


@dataclass(frozen=True, slots=True)
class _Service:
    """An ECS service as DescribeServices answered: for the card, and its desired count to compare."""

    resource: ResourceState
    desired: int | None


async def _service(ctx: ToolContext, cluster: str, service: str) -> _Service:
    ecs = await ctx.aws.client("ecs")
    found = await ecs.describe_services(cluster=cluster, services=[service])
    services = [s for s in found.get("services", ()) if s.get("status") != "INACTIVE"]
    if not services:
        raise ToolFailed(source=ECS_SOURCE, reason=f"no active service {service!r} in cluster {cluster!r}")
    raw = services[0]
    desired = raw.get("desiredCount")
    resource = ResourceState(
        id=f"{cluster}/{service}",
        name=str(raw.get("serviceName", service)),
        state=f"desired {raw.get('desiredCount', '?')}, running {raw.get('runningCount', '?')}",
    )
    return _Service(resource, desired if isinstance(desired, int) else None)


def _ecs_tool(account: _Account, verifier: _Verifier) -> Tool[EcsDesiredCountInput]:
    action = "ecs.set_desired_count"

    async def prepare(ctx: ToolContext, request: EcsDesiredCountInput) -> Proposal:
        with aws_errors(ECS_SOURCE, "ecs"):
            current = await _service(ctx, request.cluster, request.service)
        was = "?" if current.desired is None else current.desired
        return Proposal(
            action=action,
            summary=(
                f"Set the desired count of ECS service {request.service} in cluster {request.cluster} "
                f"from {was} to {request.desired_count}"
            ),
            resources=(current.resource,),
            account=await account.of(ctx),
            region=ctx.region,
            dry_run="not available for ECS UpdateService; the service was found and is active",
        )

    async def run(ctx: ToolContext, request: EcsDesiredCountInput) -> ToolOutput:
        asked = f"{action} {request.cluster}/{request.service} {request.desired_count}"
        try:
            with aws_errors(ECS_SOURCE, "ecs"):
                before = await _service(ctx, request.cluster, request.service)
                ecs = await ctx.aws.client("ecs")
                await ecs.update_service(
                    cluster=request.cluster, service=request.service, desiredCount=request.desired_count
                )
        except ToolFailed as failure:
            _audit(ctx, asked, ok=False, detail=failure.reason)
            raise
        _audit(ctx, asked, ok=True, detail=f"desired count of {request.cluster}/{request.service} set")
        after = before

        async def took_effect() -> bool:
            nonlocal after
            after = await _service(ctx, request.cluster, request.service)
            return after.desired == request.desired_count

        if before.desired == request.desired_count:
            verified, outcome = True, "nothing to change: the desired count was already that"
        else:
            verified = await _verify(verifier, took_effect, ECS_SOURCE, "ecs")
            outcome = "verified" if verified else f"not yet verified after {verifier.seconds:.0f} s"
        result = f"{request.cluster}/{request.service}: {before.resource.state} → {after.resource.state}; {outcome}."
        data = {"action": action, "done": True, "verified": verified, "result": result}
        return ToolOutput(data=data, summary=result)

    return Tool(
        name="ecs_set_desired_count",
        description=(
            "Propose to set an ECS service's desired task count. A person must approve it on an action card "
            "before it runs; the result says whether it was approved, rejected or expired, and what happened."
        ),
        input_model=EcsDesiredCountInput,
        source=ECS_SOURCE,
        effect="write",
        progress=lambda _ctx, r: f"Setting {r.cluster}/{r.service} to {r.desired_count} tasks…",
        run=run,
        action=action,
        prepare=prepare,
    )


async def _verify(verifier: _Verifier, look: Callable[[], Awaitable[bool]], source: str, service: str) -> bool:
    """Describe until the effect shows; a describe that fails leaves it unverified (the action ran either way)."""
    try:
        with aws_errors(source, service):
            return await verifier.until(look)
    except ToolFailed as failure:
        log.warning("action.not_verified", source=source, reason=failure.reason)
        return False


def _audit(ctx: ToolContext, asked: str, *, ok: bool, detail: str) -> None:
    audit(
        "action",
        user_id=ctx.origin.user_id,
        channel_id=ctx.origin.channel_id,
        asked=asked,
        decision="executed" if ok else "failed",
        rule="approved on an action card",
        request_id=ctx.request_id,
        detail=detail,
    )


def action_tools(
    *,
    verify_seconds: float = 20.0,
    verify_every: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Toolset:
    """The action tools, verifying effects for at most ``verify_seconds`` (time injected for tests)."""
    account = _Account()
    verifier = _Verifier(seconds=verify_seconds, every=verify_every, clock=clock, sleep=sleep)
    return Toolset(
        tools=(*(_ec2_tool(action, account, verifier) for action in _EC2), _ecs_tool(account, verifier)),
        probes=(
            Probe(
                "STS",
                "sts",
                "get_caller_identity",
                "sts:GetCallerIdentity",
                required=False,
                optional_because="only the action cards use it, to name the account",
            ),
        ),
        iam_actions=frozenset(
            {
                "ec2:DescribeInstances",
                "ec2:RebootInstances",
                "ec2:StopInstances",
                "ec2:StartInstances",
                "ecs:DescribeServices",
                "ecs:UpdateService",
                "sts:GetCallerIdentity",
            }
        ),
    )


#: The action tools with the production clock.
ACTION_TOOLS = action_tools()
