"""The policy in the core: explicit agents and runbooks checked, routing limited to permitted agents, audited."""

from __future__ import annotations

import asyncio
import textwrap

import structlog

from agents.admission import Admission, MemoryRateLimiter
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper
from agents.errors import PolicyDenied
from agents.events import AgentRouted
from agents.health import ModelHealth
from agents.journal import MemoryJournal
from agents.llm import ModelReply, ToolCall
from agents.orchestrator import Accepted, HelpWanted, Orchestrator, Refused, RunbooksWanted
from agents.policy import PolicySource, load_policy_text
from agents.redaction import Redactor
from agents.router import KeywordRouter, ModelRouter
from agents.runbooks import RunbookLibrary
from agents.runner import TaskRunner
from agents.task import Origin, Task
from agents.testing import FakeChatModel
from agents.testing.edge import RecordingEdge

REGISTRY = default_registry()
POLICY = textwrap.dedent("""\
    admins: [U0ADMIN01, U0ADMIN02]
    groups:
      sre: [U0SRE0001]
    rules:
      - agents: [general, monitor]
        users: ["*"]
        channels: ["*"]
      - agents: [infra]
        runbooks: [deploy-check]
        users: ["@sre"]
        channels: [C0OPS0001]
    """)


def origin(user: str, channel: str = "C0OPS0001") -> Origin:
    """A slash command from ``user`` in ``channel``."""
    return Origin(workspace_id="T1", user_id=user, channel_id=channel, surface="command")


def core(policy: str = POLICY) -> Orchestrator:
    """An orchestrator under ``policy``, with the built-in runbooks and the keyword router."""
    loaded = load_policy_text(policy, path="policy.yaml", agents=REGISTRY.names())
    assert loaded.policy is not None, loaded.problems
    model = FakeChatModel()
    return Orchestrator(
        registry=REGISTRY,
        admission=Admission(MemoryRateLimiter("100/minute"), max_per_user=5, max_total=10),
        runner=TaskRunner(router=KeywordRouter(REGISTRY), model=model, default_model_id="m"),
        deduper=MemoryDeduper(),
        model_health=ModelHealth(model, model_id="m"),
        journal=MemoryJournal(),
        redactor=Redactor(),
        runbooks=RunbookLibrary(agents=REGISTRY.names()),
        policy=PolicySource.fixed(loaded.policy),
    )


async def test_an_explicit_agent_outside_the_grant_is_refused_with_the_admins_and_audited() -> None:
    """``infra:`` from someone outside @sre: PolicyDenied naming the agent and admins; one audit line, denied."""
    with structlog.testing.capture_logs() as logs:
        outcome = await core().submit(
            "infra: list instances", request_id="req-aaaaaaaa01", origin=origin("U0ANA0001"), target=""
        )
    assert isinstance(outcome, Refused)
    assert isinstance(outcome.error, PolicyDenied)
    denial = outcome.error
    assert (denial.code, denial.what, denial.asked, denial.admins) == (
        "not_allowed",
        "agent",
        "infra",
        frozenset({"U0ADMIN01", "U0ADMIN02"}),
    )
    audits = [line for line in logs if line.get("audit")]
    assert audits == [
        {
            "event": "audit.policy",
            "log_level": "info",
            "audit": True,
            "user_id": "U0ANA0001",
            "channel_id": "C0OPS0001",
            "asked": "agent:infra",
            "decision": "denied",
            "rule": "no rule allows it",
            "request_id": "req-aaaaaaaa01",
            "surface": "command",
        }
    ]


async def test_an_explicit_agent_inside_the_grant_is_accepted_and_audited_with_its_rule() -> None:
    """``infra:`` from an @sre member in #ops is allowed by rules[1], and the audit line names it."""
    with structlog.testing.capture_logs() as logs:
        outcome = await core().submit(
            "infra: list instances", request_id="req-aaaaaaaa02", origin=origin("U0SRE0001"), target=""
        )
    assert isinstance(outcome, Accepted)
    [audit] = [line for line in logs if line.get("audit")]
    assert (audit["asked"], audit["decision"], audit["rule"]) == ("agent:infra", "allowed", "rules[1] (policy.yaml:8)")


async def test_the_same_person_elsewhere_is_refused() -> None:
    """The grant is for #ops only: the same @sre member asking for infra in another channel is refused."""
    outcome = await core().submit(
        "infra: list instances", request_id="req-aaaaaaaa03", origin=origin("U0SRE0001", "C0OTHER01"), target=""
    )
    assert isinstance(outcome, Refused)
    assert isinstance(outcome.error, PolicyDenied)


async def test_runbooks_are_checked_by_name_and_their_grant_covers_their_steps() -> None:
    """deploy-check is granted to @sre in #ops (its steps use infra); cost-report is granted to nobody."""
    orchestrator = core()
    with structlog.testing.capture_logs() as logs:
        allowed = await orchestrator.submit(
            "run deploy-check service=api", request_id="req-aaaaaaaa04", origin=origin("U0SRE0001"), target=""
        )
        denied = await orchestrator.submit(
            "run cost-report", request_id="req-aaaaaaaa05", origin=origin("U0SRE0001"), target=""
        )
    assert isinstance(allowed, Accepted), allowed
    assert isinstance(denied, Refused)
    assert isinstance(denied.error, PolicyDenied)
    assert (denied.error.what, denied.error.asked) == ("runbook", "cost-report")
    decisions = [(line["asked"], line["decision"]) for line in logs if line.get("audit")]
    assert decisions == [("runbook:deploy-check", "allowed"), ("runbook:cost-report", "denied")]


async def test_a_routed_task_goes_only_to_agents_the_person_may_use() -> None:
    """A question that would route to infra goes to another agent for someone who may not use infra."""
    orchestrator = core()
    edge = RecordingEdge()
    orchestrator.start(edge)
    with structlog.testing.capture_logs() as logs:
        outcome = await orchestrator.submit(
            "what ec2 instances are stopped?", request_id="req-aaaaaaaa06", origin=origin("U0ANA0001"), target=""
        )
        assert isinstance(outcome, Accepted)
        async with asyncio.timeout(10):
            await edge.ended.wait()
    await orchestrator.drain(1)
    [routed] = [event for event in edge.events if isinstance(event, AgentRouted)]
    assert routed.routing.agent.name in {"general", "monitor"}
    [audit] = [line for line in logs if line.get("audit")]
    assert (audit["asked"], audit["decision"], audit["agents"]) == ("agent:*", "allowed", "general,monitor")


async def test_someone_who_may_use_no_agent_here_is_refused_at_submit() -> None:
    """A policy granting only @sre in #ops: anyone else's question is refused before it is queued."""
    only_sre = 'admins: [U0ADMIN01]\ngroups: {sre: [U0SRE0001]}\nrules:\n  - agents: ["*"]\n    users: ["@sre"]\n    channels: [C0OPS0001]\n'
    outcome = await core(only_sre).submit("hello", request_id="req-aaaaaaaa07", origin=origin("U0ANA0001"), target="")
    assert isinstance(outcome, Refused)
    assert isinstance(outcome.error, PolicyDenied)
    assert outcome.error.what == "agents"


async def test_help_and_the_runbook_list_show_only_what_the_person_may_use_there() -> None:
    """Help lists general and monitor for everyone, plus infra for @sre in #ops; runbooks likewise."""
    orchestrator = core()
    anyone = await orchestrator.submit("help", request_id="req-aaaaaaaa08", origin=origin("U0ANA0001"), target="")
    sre = await orchestrator.submit("help", request_id="req-aaaaaaaa09", origin=origin("U0SRE0001"), target="")
    assert isinstance(anyone, HelpWanted)
    assert isinstance(sre, HelpWanted)
    assert [a.name for a in anyone.agents] == ["general", "monitor"]
    assert [a.name for a in sre.agents] == ["general", "monitor", "infra"]
    listed = await orchestrator.submit("runbooks", request_id="req-aaaaaaaa10", origin=origin("U0SRE0001"), target="")
    assert isinstance(listed, RunbooksWanted)
    assert listed.allowed == {"deploy-check"}


async def test_without_a_policy_file_everything_but_actions_is_allowed() -> None:
    """The default policy: every agent in help, any explicit agent and runbook accepted."""
    orchestrator = core()
    orchestrator.policy = PolicySource(None, agents=REGISTRY.names())
    help_ = await orchestrator.submit("help", request_id="req-aaaaaaaa11", origin=origin("U0ANA0001"), target="")
    assert isinstance(help_, HelpWanted)
    assert [a.name for a in help_.agents] == [a.name for a in REGISTRY.all()]
    accepted = await orchestrator.submit(
        "infra: list instances", request_id="req-aaaaaaaa12", origin=origin("U0ANA0001"), target=""
    )
    assert isinstance(accepted, Accepted)


async def test_the_keyword_router_chooses_among_the_permitted_agents_only() -> None:
    """Keywords for infra, but infra is not permitted: the default agent answers; if it is not, the first permitted."""
    router = KeywordRouter(REGISTRY)
    task = Task(
        request_id="req-aaaaaaaa13", origin=origin("U1"), text="list ec2 instances", allowed_agents=("general", "logs")
    )
    assert (await router.route(task)).agent.name == "general"
    no_default = task.model_copy(update={"allowed_agents": ("logs", "monitor")})
    assert (await router.route(no_default)).agent.name == "monitor"


async def test_the_model_router_is_offered_only_the_permitted_agents() -> None:
    """The routing model's enum holds just the permitted agents, and an answer outside them is not taken."""
    model = FakeChatModel()
    model.enqueue(
        ModelReply(
            text="", model_id="r", tool_calls=(ToolCall("t1", "choose_agent", {"agent": "infra", "reason": "x"}),)
        )
    )
    router = ModelRouter(REGISTRY, model, model_id="r")
    task = Task(
        request_id="req-aaaaaaaa14",
        origin=origin("U1"),
        text="list ec2 instances",
        allowed_agents=("general", "monitor"),
    )
    routing = await router.route(task)
    [tool] = model.requests[0].tools
    assert tool.input_schema["properties"]["agent"]["enum"] == ["general", "monitor"]
    assert routing.agent.name in {"general", "monitor"}
