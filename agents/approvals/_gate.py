"""The hook before every tool call, for actions: a write call becomes an approval request, never a call.

:class:`ApprovalGate` is the :class:`~agents.toolgate.ToolGate` of the agent loop:

- a ``read`` tool runs (:class:`Allow`);
- an action (a ``write`` tool with a policy ``action``) is checked against the policy *now* (no grant:
  :class:`Deny` with the reason), prepared (dry run, the resource described, account and region: the
  tool's ``prepare``), recorded as a pending :class:`Approval` bound to the task, the tool call and a hash
  of its exact parameters, and the task is suspended with the card's data (:class:`Suspend`);
- when the suspended task runs again (someone decided, :meth:`ApprovalDesk.decide`), the same call comes
  back here and is looked up by (request ID, tool call ID): approved with the same parameters hash →
  :class:`Allow` (the loop then runs it once, under its idempotency key); rejected or expired →
  :class:`Deny`, which the model hears as the call's result; still pending → :class:`Suspend` again,
  with no new card.

Every tool that is not an action goes to ``fallback`` when there is one (the test bench's gate); without
one, reads run and any other write is denied.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import structlog

from agents.approvals._record import Approval, canonical, new_approval_id, params_hash
from agents.audit import audit
from agents.errors import InvalidToolInput, ToolFailed
from agents.policy import Place
from agents.toolgate import Allow, Deny, Suspend

if TYPE_CHECKING:
    from collections.abc import Callable

    from agents.approvals._store import ApprovalStore
    from agents.llm import ToolCall
    from agents.policy import ActionGrant, Policy
    from agents.task import Task
    from agents.toolgate import Decision, ToolGate
    from agents.tools import Tool, ToolContext

__all__ = ["ApprovalGate", "expired_reason", "rejected_reason"]

log = structlog.get_logger(__name__)


def rejected_reason(approval: Approval) -> str:
    """What the model hears when a person rejected the action."""
    return f"rejected by <@{approval.decided_by}>: the action was not run. Say so; do not retry it."


def expired_reason(approval: Approval) -> str:
    """What the model hears when nobody decided in time."""
    minutes = max(1, round((approval.expires_at - approval.created_at) / 60))
    return f"expired, nobody approved it within {minutes} minutes: the action was not run. Say so."


class ApprovalGate:
    """Allows reads, turns each action call into an approval request, and honours the decision."""

    def __init__(
        self,
        *,
        store: ApprovalStore,
        policy: Callable[[], Policy],
        tool_context: Callable[[Task], ToolContext],
        timeout_seconds: float,
        fallback: ToolGate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._policy = policy
        self._tool_context = tool_context
        self._timeout = timeout_seconds
        self._fallback = fallback
        self._clock = clock

    def offered(self, task: Task, tool: Tool[Any]) -> bool:
        """Whether the model may be offered ``tool`` in ``task``: an action only where its person is granted it."""
        if not tool.action:
            return True
        return self._grant(task, tool.action) is not None

    def _grant(self, task: Task, action: str) -> ActionGrant | None:
        return self._policy().action(task.origin.user_id, Place.of(task.origin), action)

    async def decide(self, task: Task, tool: Tool[Any], call: ToolCall) -> Decision:
        """Allow, deny or suspend ``call`` (see the module docstring)."""
        if not tool.action or tool.prepare is None:
            if self._fallback is not None:
                return await self._fallback.decide(task, tool, call)
            if tool.effect == "read":
                return Allow()
            return Deny("this tool changes things and has no approval path, so it never runs")
        grant = self._grant(task, tool.action)
        if grant is None:
            audit(
                "policy",
                user_id=task.origin.user_id,
                channel_id=task.origin.channel_id,
                asked=tool.action,
                decision="denied",
                rule="no rule grants this action here",
                request_id=task.request_id,
            )
            return Deny(f"the policy does not let this person ask for {tool.action} here; an admin can grant it")
        existing = await self._store.for_call(task.request_id, call.id)
        if existing is not None:
            return await self._decided(existing, call)
        return await self._propose(task, tool, call, grant)

    async def _decided(self, approval: Approval, call: ToolCall) -> Decision:
        if approval.state == "approved":
            if approval.tool != call.name or params_hash(call.input) != approval.params_hash:
                log.warning("approval.params_mismatch", approval_id=approval.id)
                return Deny("its parameters differ from the ones approved, so it was not run")
            return Allow()
        if approval.state == "rejected":
            return Deny(rejected_reason(approval))
        if approval.state == "expired":
            return Deny(expired_reason(approval))
        # Still pending (out of time or not): the desk's sweeper expires it, with its audit line and card.
        return Suspend(f"approval {approval.id} is still pending")

    async def _propose(self, task: Task, tool: Tool[Any], call: ToolCall, grant: ActionGrant) -> Decision:
        if tool.prepare is None:  # pragma: no cover - decide() checked
            return Deny("no approval path")
        try:
            request = tool.parse(call.input)
        except InvalidToolInput as invalid:
            return Deny(f"{tool.name} was not proposed, {invalid.reason}. Correct these fields and call it again.")
        try:
            proposal = await tool.prepare(self._tool_context(task), request)
        except ToolFailed as failure:
            log.info("approval.not_prepared", tool=tool.name, source=failure.source)
            return Deny(f"the action could not be prepared: {failure.source} said {failure.reason}")
        now = self._clock()
        timeout = grant.expires_after if grant.expires_after is not None else self._timeout
        place = Place.of(task.origin)
        arguments = request.model_dump(mode="json")
        approval = Approval(
            id=new_approval_id(),
            request_id=task.request_id,
            call_id=call.id,
            tool=tool.name,
            action=tool.action,
            params=canonical(arguments),
            params_hash=params_hash(call.input),
            requester_id=task.origin.user_id,
            workspace_id=task.origin.workspace_id,
            channel_id=place.channel_id,
            is_dm=place.is_dm,
            approvers=tuple(sorted(grant.approvers)),
            rule=grant.rule,
            created_at=now,
            expires_at=now + timeout,
            proposal=proposal.model_dump_json(),
        )
        await self._store.create(approval)
        log.info("approval.requested", approval_id=approval.id, action=tool.action, rule=grant.rule)
        return Suspend(f"approval of {tool.action}", approval=approval)
