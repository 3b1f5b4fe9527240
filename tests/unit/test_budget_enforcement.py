"""Daily token budgets enforced by the core: before every model call, at submit, in runbooks, and reported."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from agents.admission import Admission, MemoryRateLimiter
from agents.budgets import Account, BudgetGuard, MemoryTokenBudgets, Spent, TopUsage
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper
from agents.errors import BudgetExceeded, StoreUnavailable
from agents.events import AnswerDelta, StepFinished, TaskFailed, TaskSucceeded
from agents.health import ModelHealth
from agents.journal import MemoryJournal
from agents.llm import ModelReply, ToolCall, Usage
from agents.metrics import Metrics
from agents.orchestrator import Accepted, Orchestrator, Refused, UsageWanted
from agents.policy import BudgetLimits, Policy, PolicySource
from agents.redaction import Redactor
from agents.router import KeywordRouter, ModelRouter
from agents.runbooks import RunbookLibrary
from agents.runner import TaskRunner
from agents.task import Origin
from agents.testing import FakeChatModel
from agents.testing.edge import RecordingEdge

ORIGIN = Origin(workspace_id="T1", user_id="U0ANA", channel_id="C0OPS", surface="command")
NOON = datetime(2026, 11, 3, 12, 0, tzinfo=UTC).timestamp()
MIDNIGHT = datetime(2026, 11, 4, 0, 0, tzinfo=UTC).timestamp()


def reply(
    text: str, tokens_in: int, tokens_out: int, *, cached: int = 0, calls: tuple[ToolCall, ...] = ()
) -> ModelReply:
    """A scripted reply that used exactly these tokens (``tokens_in`` includes ``cached``)."""
    return ModelReply(text, "m", usage=Usage(tokens_in, tokens_out, cached, 0), tool_calls=calls)


class Setup:
    """A core with budgets from ``limits``, a fake model, and a router that asks the model when ``routed``."""

    def __init__(self, limits: BudgetLimits, *, routed: bool = False, admins: frozenset[str] = frozenset()) -> None:
        registry = default_registry()
        self.model = FakeChatModel()
        self.counters = MemoryTokenBudgets(clock=lambda: NOON)
        self.limits = limits
        self.metrics = Metrics()
        self.guard = BudgetGuard(self.counters, limits=lambda: self.limits, metrics=self.metrics)
        router = (
            ModelRouter(registry, self.model, model_id="router", budget=self.guard)
            if routed
            else KeywordRouter(registry)
        )
        self.edge = RecordingEdge()
        self.core = Orchestrator(
            registry=registry,
            admission=Admission(MemoryRateLimiter("100/minute"), max_per_user=5, max_total=10),
            runner=TaskRunner(router=router, model=self.model, default_model_id="m", budget=self.guard),
            deduper=MemoryDeduper(),
            model_health=ModelHealth(self.model, model_id="m"),
            journal=MemoryJournal(),
            redactor=Redactor(),
            runbooks=RunbookLibrary(agents=registry.names()),
            runbook_limits=(1, 30.0),  # one step at a time: the order the budget runs out in is fixed
            budget=self.guard,
            metrics=self.metrics,
            policy=PolicySource.fixed(dataclasses.replace(Policy.default(), admins=admins)),
        )
        self.core.start(self.edge)

    async def ask(self, text: str, request_id: str, origin: Origin = ORIGIN) -> TaskSucceeded | TaskFailed:
        """Submit ``text`` and wait for its last event."""
        outcome = await self.core.submit(text, request_id=request_id, origin=origin, target="")
        assert isinstance(outcome, Accepted), outcome
        async with asyncio.timeout(10):
            await self.edge.ended.wait()
        self.edge.ended.clear()
        return self.edge.last()

    def refusals(self, budget: str, stage: str) -> float:
        """``orch_tokens_budget_refusals_total{budget, stage}``."""
        value = self.metrics.registry.get_sample_value(
            "orch_tokens_budget_refusals_total", {"budget": budget, "stage": stage}
        )
        return value or 0.0


@pytest.mark.parametrize(
    ("limits", "level", "name"),
    [
        (BudgetLimits(per_user=100), "user", "your daily token budget"),
        (BudgetLimits(per_channel=100), "channel", "this channel's daily token budget"),
        (BudgetLimits(workspace=100), "workspace", "the workspace's daily token budget"),
    ],
)
async def test_each_budget_level_refuses_by_its_own_name(limits: BudgetLimits, level: str, name: str) -> None:
    """Used up at any level, the check raises BudgetExceeded naming that budget, its figures and the next midnight."""
    guard = BudgetGuard(MemoryTokenBudgets(clock=lambda: NOON), limits=lambda: limits)
    await guard.spend(ORIGIN, Usage(90, 10), agent="general")
    with pytest.raises(BudgetExceeded) as refused:
        await guard.check(ORIGIN)
    error = refused.value
    assert (error.level, error.budget, error.limit, error.used) == (level, name, 100, 100)
    assert error.resets_at == MIDNIGHT
    assert error.code == "budget_exceeded"


async def test_the_narrowest_used_up_budget_is_the_one_named() -> None:
    """Person and workspace both used up: the person hears about their own budget first."""
    guard = BudgetGuard(
        MemoryTokenBudgets(clock=lambda: NOON), limits=lambda: BudgetLimits(per_user=10, per_channel=500, workspace=10)
    )
    await guard.spend(ORIGIN, Usage(20, 0), agent="general")
    with pytest.raises(BudgetExceeded) as refused:
        await guard.check(ORIGIN)
    assert refused.value.level == "user"


async def test_omitted_budgets_never_refuse_and_are_not_read() -> None:
    """With no budgets set (no policy file), a check does not even read the counters; usage is still counted."""

    class Unreadable(MemoryTokenBudgets):
        async def spent(self, account: Account) -> Spent:
            raise AssertionError(f"read {account}")

    counters = Unreadable(clock=lambda: NOON)
    guard = BudgetGuard(counters, limits=BudgetLimits)
    await guard.spend(ORIGIN, Usage(10**9, 10**9), agent="general")
    await guard.check(ORIGIN)
    assert await guard.warning(ORIGIN) is None
    assert (await counters.top("T1", limit=1)).users == (("U0ANA", 2 * 10**9),)


async def test_only_the_budgets_set_are_checked() -> None:
    """A per-channel budget alone: the person's huge usage elsewhere is no reason to refuse here."""
    guard = BudgetGuard(MemoryTokenBudgets(clock=lambda: NOON), limits=lambda: BudgetLimits(per_channel=100))
    await guard.spend(ORIGIN.model_copy(update={"channel_id": "C0DEV"}), Usage(5000, 0), agent="general")
    await guard.check(ORIGIN)
    standing = await guard.standing(ORIGIN)
    assert [(level.level, level.used) for level in standing.levels] == [("channel", 0)]


async def test_the_warning_starts_at_80_percent() -> None:
    """79 of 100 tokens: no warning; 80: the person's budget is named at 80%, with the reset time."""
    guard = BudgetGuard(MemoryTokenBudgets(clock=lambda: NOON), limits=lambda: BudgetLimits(per_user=100))
    await guard.spend(ORIGIN, Usage(79, 0), agent="general")
    assert await guard.warning(ORIGIN) is None
    await guard.spend(ORIGIN, Usage(0, 1), agent="general")
    warning = await guard.warning(ORIGIN)
    assert warning is not None
    assert [(level.level, level.percent) for level in warning.levels] == [("user", 80)]
    assert warning.resets_at == MIDNIGHT


async def test_cached_input_tokens_count_as_bedrock_reports_them() -> None:
    """Input (cache reads and writes included, as Usage holds them) plus output: 1,000 + 50."""
    counters = MemoryTokenBudgets(clock=lambda: NOON)
    guard = BudgetGuard(counters, limits=BudgetLimits)
    await guard.spend(ORIGIN, Usage(1000, 50, cache_read_tokens=900, cache_write_tokens=100), agent="monitor")
    assert (await counters.spent(Account.of(ORIGIN))).user == 1050


async def test_an_unreachable_counter_store_lets_the_call_through() -> None:
    """The budget store is down: the check lets the task run (logged); counting is skipped, not fatal."""

    class Down(MemoryTokenBudgets):
        async def spent(self, account: Account) -> Spent:  # noqa: ARG002 - the port's shape
            raise StoreUnavailable(store="Redis", reason="ConnectionError")

        async def add(self, account: Account, tokens: int, *, agent: str) -> None:  # noqa: ARG002
            raise StoreUnavailable(store="Redis", reason="ConnectionError")

    guard = BudgetGuard(Down(clock=lambda: NOON), limits=lambda: BudgetLimits(per_user=1))
    await guard.check(ORIGIN)
    await guard.spend(ORIGIN, Usage(5, 5), agent="general")
    assert await guard.warning(ORIGIN) is None


async def test_a_task_over_budget_is_refused_at_submit_without_a_model_call() -> None:
    """The first task uses the budget up; the next is refused before it is queued, and the model is never asked."""
    setup = Setup(BudgetLimits(per_user=1000))
    setup.model.enqueue(reply("All quiet.", 900, 150))
    first = await setup.ask("general: anything alarming?", "req-aaaaaaaa0001")
    assert isinstance(first, TaskSucceeded)
    assert first.result.budget is not None  # 1,050 of 1,000: the answer warns
    second = await setup.core.submit("general: and now?", request_id="req-aaaaaaaa0002", origin=ORIGIN, target="")
    assert isinstance(second, Refused)
    assert isinstance(second.error, BudgetExceeded)
    assert second.error.resets_at == MIDNIGHT
    assert len(setup.model.requests) == 1
    assert setup.refusals("user", "submit") == 1
    assert await setup.core.task_status("req-aaaaaaaa0002") is None  # never journalled
    await setup.core.drain(1)


async def test_the_budget_is_checked_before_every_model_call_including_the_routers() -> None:
    """The router's call uses the budget up: the agent's call is never made, and the task fails with the budget."""
    setup = Setup(BudgetLimits(per_user=100), routed=True)
    route = ToolCall("r1", "choose_agent", {"agent": "general", "reason": "a general question"})
    setup.model.enqueue(reply("", 90, 20, calls=(route,)), reply("never sent", 1, 1))
    ended = await setup.ask("what is a load balancer?", "req-aaaaaaaa0003")
    assert isinstance(ended, TaskFailed)
    assert isinstance(ended.error, BudgetExceeded)
    assert (ended.error.used, ended.error.limit) == (110, 100)
    assert len(setup.model.requests) == 1
    assert setup.refusals("user", "call") == 1
    top = await setup.counters.top("T1", limit=5)
    assert top.agents == (("router", 110),)
    await setup.core.drain(1)


async def test_a_budget_used_up_between_turns_stops_the_task_before_the_next_turn() -> None:
    """A tool-using turn uses the budget up: the tools run, then the task stops instead of asking the model again."""
    setup = Setup(BudgetLimits(per_user=100))
    call = ToolCall("t1", "no_such_tool", {})
    setup.model.enqueue(reply("Let me look.", 80, 30, calls=(call,)), reply("never sent", 1, 1))
    ended = await setup.ask("general: look around", "req-aaaaaaaa0004")
    assert isinstance(ended, TaskFailed)
    assert isinstance(ended.error, BudgetExceeded)
    assert len(setup.model.requests) == 1
    assert "Let me look." in "".join(e.text for e in setup.edge.events if isinstance(e, AnswerDelta))
    await setup.core.drain(1)


async def test_a_runbook_out_of_budget_stops_with_its_finished_steps() -> None:
    """A runbook out of budget stops at the step it reached, with the finished steps as its answer so far.

    incident-triage, one step at a time: alarms uses the budget up; errors (continue_on_error) is stopped,
    deploy and summary are skipped; the answer so far is alarms' output, and the run fails naming the step.
    """
    setup = Setup(BudgetLimits(per_user=500))
    setup.model.enqueue(reply("ALARMS: two in ALARM since 14:02.", 500, 100), reply("never sent", 1, 1))
    ended = await setup.ask("run incident-triage service=checkout", "req-aaaaaaaa0005")
    assert isinstance(ended, TaskFailed)
    error = ended.error
    assert isinstance(error, BudgetExceeded)
    assert error.step == "errors"
    assert len(setup.model.requests) == 1
    answer = "".join(e.text for e in setup.edge.events if isinstance(e, AnswerDelta))
    assert "*alarms*\nALARMS: two in ALARM since 14:02." in answer
    finished = {e.step: e for e in setup.edge.events if isinstance(e, StepFinished)}
    assert finished["alarms"].ok
    assert finished["errors"].error == "your daily token budget is used up"
    assert finished["deploy"].skipped
    assert finished["summary"].error == "not run: your daily token budget is used up"
    await setup.core.drain(1)


async def test_usage_reports_your_budgets_and_admins_also_see_the_top() -> None:
    """``usage`` (the one word) is the report, never a task: a person sees their own; an admin the top users too."""
    setup = Setup(BudgetLimits(per_user=1000, workspace=10_000), admins=frozenset({"U0ADMIN"}))
    await setup.guard.spend(ORIGIN, Usage(700, 100), agent="monitor")
    await setup.guard.spend(ORIGIN.model_copy(update={"user_id": "U0BEN"}), Usage(50, 0), agent="logs")
    mine = await setup.core.submit(" Usage ", request_id="req-aaaaaaaa0006", origin=ORIGIN, target="")
    assert isinstance(mine, UsageWanted)
    assert mine.report is not None
    assert not mine.admin
    assert mine.report.top is None
    levels = {level.level: (level.used, level.limit, level.percent) for level in mine.report.standing.levels}
    assert levels == {"user": (800, 1000, 80), "workspace": (850, 10_000, 8)}
    assert mine.report.standing.resets_at == MIDNIGHT
    admin = ORIGIN.model_copy(update={"user_id": "U0ADMIN"})
    theirs = await setup.core.submit("usage", request_id="req-aaaaaaaa0007", origin=admin, target="")
    assert isinstance(theirs, UsageWanted)
    assert theirs.report is not None
    assert theirs.report.top == TopUsage(
        users=(("U0ANA", 800), ("U0BEN", 50)),
        channels=(("C0OPS", 850),),
        agents=(("monitor", 800), ("logs", 50)),
        day=theirs.report.standing.spent.day,
    )
    assert not setup.model.requests
    await setup.core.drain(1)


async def test_a_question_about_usage_is_still_a_question() -> None:
    """A question starting with the word usage ("usage of the api tier?") is a task for an agent, not the report."""
    setup = Setup(BudgetLimits())
    setup.model.enqueue(reply("It is fine.", 10, 5))
    ended = await setup.ask("usage of the api tier?", "req-aaaaaaaa0008")
    assert isinstance(ended, TaskSucceeded)
    assert ended.result.budget is None
    await setup.core.drain(1)
