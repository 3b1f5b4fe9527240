"""Scheduling a runbook's step DAG with a fake step runner and clock: concurrency, order, cap, timeouts, failures."""

from __future__ import annotations

import asyncio
import textwrap

from agents.catalog import default_registry
from agents.runbooks import Runbook, RunbookStep, StepOutcome, load_runbook_text, run_steps

AGENTS = default_registry().names()


def runbook(text: str) -> Runbook:
    """A runbook from YAML that must load."""
    loaded, problems = load_runbook_text(textwrap.dedent(text), path="t.yaml", agents=AGENTS)
    assert problems == []
    assert loaded is not None
    return loaded


TRIAGE = runbook("""\
    name: triage
    params:
      service: {type: string, required: true}
    steps:
      - {id: alarms, agent: monitor, prompt: "alarms of {{ params.service }}"}
      - {id: errors, agent: logs, prompt: "errors of {{ params.service }}", continue_on_error: true}
      - {id: deploy, agent: infra, prompt: "deploy of {{ params.service }}"}
      - id: summary
        agent: general
        needs: [alarms, errors, deploy]
        prompt: "A={{ steps.alarms.output }} E={{ steps.errors.output }} D={{ steps.deploy.output }}"
    """)


class FakeSteps:
    """Steps that wait until the test releases them; records what ran, with which prompt, and the peak overlap."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.outcomes: dict[str, StepOutcome] = {}
        self.prompts: dict[str, str] = {}
        self.started: list[str] = []
        self.running = 0
        self.peak = 0
        self.now = 0.0

    def clock(self) -> float:
        """The injected clock: the test moves it."""
        return self.now

    def release(self, step: str, outcome: StepOutcome | None = None) -> None:
        """Let ``step`` finish (with ``outcome``; ok with an output naming it by default)."""
        self.outcomes[step] = outcome or StepOutcome(ok=True, output=f"{step}-fact")
        self.gates.setdefault(step, asyncio.Event()).set()

    async def run(self, step: RunbookStep, prompt: str) -> StepOutcome:
        """The fake step runner."""
        self.started.append(step.id)
        self.prompts[step.id] = prompt
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.gates.setdefault(step.id, asyncio.Event()).wait()
        finally:
            self.running -= 1
        return self.outcomes[step.id]


async def settle() -> None:
    """Let every runnable task run until all wait again."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_independent_steps_start_together_and_the_summary_waits_for_all() -> None:
    """The three steps without needs start at once; the summary starts only when the last of them finished."""
    fake = FakeSteps()
    run = asyncio.create_task(run_steps(TRIAGE, {"service": "checkout"}, run_step=fake.run, clock=fake.clock))
    await settle()
    assert fake.started == ["alarms", "errors", "deploy"]
    assert fake.peak == 3
    fake.release("alarms")
    fake.release("deploy")
    await settle()
    assert "summary" not in fake.started
    fake.now = 7.5
    fake.release("errors")
    await settle()
    assert fake.started[-1] == "summary"
    assert fake.prompts["alarms"] == "alarms of checkout"
    summary = fake.prompts["summary"]
    assert '<step_output step="alarms" ok="true">\nalarms-fact\n</step_output>' in summary
    assert "errors-fact" in summary
    assert "deploy-fact" in summary
    fake.release("summary")
    results = await run
    assert list(results) == ["alarms", "errors", "deploy", "summary"]
    assert all(r.ok for r in results.values())
    assert results["errors"].seconds == 7.5  # measured with the injected clock


async def test_the_cap_limits_parallel_steps() -> None:
    """With ``max_parallel=2`` only two of the three independent steps run at a time, in file order."""
    fake = FakeSteps()
    run = asyncio.create_task(run_steps(TRIAGE, {"service": "s"}, run_step=fake.run, max_parallel=2))
    await settle()
    assert fake.started == ["alarms", "errors"]
    fake.release("alarms")
    await settle()
    assert fake.started == ["alarms", "errors", "deploy"]
    for step in ("errors", "deploy", "summary"):
        fake.release(step)
        await settle()
    await run
    assert fake.peak == 2


async def test_a_timed_out_step_with_continue_on_error_lets_the_run_go_on() -> None:
    """``errors`` times out; it may fail, so the summary runs and its prompt says what happened."""
    timed = runbook("""\
        name: timed
        steps:
          - {id: alarms, agent: monitor, prompt: a}
          - {id: errors, agent: logs, prompt: e, timeout: 0.01, continue_on_error: true}
          - {id: summary, agent: general, needs: [alarms, errors], prompt: "{{ steps.errors.output }}"}
        """)
    fake = FakeSteps()
    fake.release("alarms")
    fake.release("summary")
    results = await run_steps(timed, {}, run_step=fake.run)  # "errors" is never released
    assert results["errors"] == StepOutcome(ok=False, error="timed out after 0.01 s", seconds=results["errors"].seconds)
    assert results["summary"].ok
    assert '<step_output step="errors" ok="false">\ntimed out after 0.01 s\n</step_output>' in fake.prompts["summary"]


async def test_a_failed_step_without_continue_on_error_skips_what_has_not_started() -> None:
    """``deploy`` fails: the steps already running finish, the summary never runs and is marked skipped."""
    fake = FakeSteps()
    run = asyncio.create_task(run_steps(TRIAGE, {"service": "s"}, run_step=fake.run))
    await settle()
    fake.release("deploy", StepOutcome(ok=False, error="ECS said no"))
    await settle()
    fake.release("alarms")
    fake.release("errors")
    results = await run
    assert results["deploy"].error == "ECS said no"
    assert results["alarms"].ok
    assert results["errors"].ok
    assert results["summary"] == StepOutcome(ok=False, error="not run: step deploy failed", skipped=True)
    assert "summary" not in fake.started


async def test_a_failed_step_with_continue_on_error_does_not_stop_the_run() -> None:
    """``errors`` may fail: its failure reaches the summary's prompt as data, and the run finishes."""
    fake = FakeSteps()
    for step in ("alarms", "deploy", "summary"):
        fake.release(step)
    fake.release("errors", StepOutcome(ok=False, error="Logs Insights failed"))
    results = await run_steps(TRIAGE, {"service": "s"}, run_step=fake.run)
    assert results["summary"].ok
    assert 'ok="false">\nLogs Insights failed\n' in fake.prompts["summary"]


async def test_steps_already_done_are_not_run_again() -> None:
    """A resumed run passes the journalled outcomes: only the rest runs, and the summary sees the old outputs."""
    fake = FakeSteps()
    fake.release("deploy")
    fake.release("summary")
    done = {
        "alarms": StepOutcome(ok=True, output="old-alarms", reused=True),
        "errors": StepOutcome(ok=True, output="old-errors", reused=True),
    }
    results = await run_steps(TRIAGE, {"service": "s"}, run_step=fake.run, done=done)
    assert fake.started == ["deploy", "summary"]
    assert results["alarms"].reused
    assert "old-alarms" in fake.prompts["summary"]


async def test_started_and_finished_are_reported_per_step_in_order() -> None:
    """``on_start``/``on_finish`` see each step; a chain runs strictly one after the other."""
    chain = runbook("""\
        name: chain
        steps:
          - {id: a, agent: general, prompt: a}
          - {id: b, agent: general, needs: [a], prompt: "{{ steps.a.output }}"}
          - {id: c, agent: general, needs: [b], prompt: "{{ steps.a.output }} {{ steps.b.output }}"}
        """)
    fake = FakeSteps()
    for step in ("a", "b", "c"):
        fake.release(step)
    seen: list[str] = []

    async def on_start(step: RunbookStep) -> None:
        seen.append(f"start {step.id}")

    async def on_finish(step: RunbookStep, outcome: StepOutcome) -> None:
        seen.append(f"finish {step.id} {outcome.ok}")

    await run_steps(chain, {}, run_step=fake.run, on_start=on_start, on_finish=on_finish)
    assert seen == ["start a", "finish a True", "start b", "finish b True", "start c", "finish c True"]
    assert fake.peak == 1
    assert "a-fact" in fake.prompts["c"]
