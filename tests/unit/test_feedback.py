"""Feedback on answers in the core: one rating per person and task, the latest winning, on every journal backend.

The orchestrator is the real one over each journal (memory, SQLite, Redis); tasks are journalled records,
as the lifecycle leaves them, so these tests read like clicks arriving for answers already given.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from agents.admission import Admission, MemoryRateLimiter
from agents.catalog import AgentRegistry, AgentSpec
from agents.dedupe import MemoryDeduper
from agents.feedback import Feedback, FeedbackCount, FeedbackRefused
from agents.health import ModelHealth
from agents.journal import MemoryJournal, TaskJournal, TaskRecord
from agents.orchestrator import Orchestrator
from agents.redaction import Redactor
from agents.router import KeywordRouter
from agents.runner import TaskRunner
from agents.stores import RedisJournal, SqliteJournal
from agents.testing import FakeChatModel
from agents.testing.redis_keys import delete_prefix
from agents.tools import ToolContext, Toolset

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

SECRET = "AKIAIOSFODNN7EXAMPLE"  # an AWS access key id: the redactor's patterns know it


@pytest_asyncio.fixture(params=["memory", "sqlite", "redis"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TaskJournal]:
    """Each backend in turn; Redis under a unique key prefix, deleted afterwards."""
    if request.param == "memory":
        yield MemoryJournal()
    elif request.param == "sqlite":
        store = await SqliteJournal.open(str(tmp_path / "journal.db"))
        yield store
        await store.close()
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
        shared = RedisJournal(Redis.from_url(url, decode_responses=True), prefix=prefix)
        yield shared
        await delete_prefix(url, prefix)
        await shared.close()


def _core(journal: TaskJournal) -> Orchestrator:
    spec = AgentSpec(name="general", description="d", examples=(), system_prompt="s", toolset=Toolset(()))
    registry = AgentRegistry([spec], default="general")
    model = FakeChatModel()
    runner = TaskRunner(
        router=KeywordRouter(registry),
        model=model,
        default_model_id="m",
        tool_context=lambda task: ToolContext.for_task(task, aws=None, region="us-east-1"),  # type: ignore[arg-type]
        ledger=journal,
    )
    return Orchestrator(
        registry=registry,
        admission=Admission(MemoryRateLimiter("100/minute"), max_per_user=5, max_total=10),
        runner=runner,
        deduper=MemoryDeduper(),
        model_health=ModelHealth(model, model_id="m"),
        journal=journal,
        redactor=Redactor(),
    )


async def _answered(journal: TaskJournal, request_id: str, **changes: object) -> None:
    """Journal a task answered by ``monitor`` on ``model-a`` in T1/C1."""
    base = TaskRecord(
        request_id=request_id,
        workspace_id="T1",
        user_id="U1",
        text="what's alarming?",
        started_at=1000.0,
        status="succeeded",
        agent="monitor",
        channel_id="C1",
        model_id="model-a",
    )
    await journal.put(dataclasses.replace(base, **changes))  # type: ignore[arg-type]


async def _rate(core: Orchestrator, request_id: str, user: str, rating: str, at: float) -> Feedback | FeedbackRefused:
    return await core.record_feedback(
        request_id,
        user_id=user,
        rating="up" if rating == "up" else "down",
        workspace_id="T1",
        channel_id="C1",
        at=at,
    )


async def test_the_latest_click_of_each_person_counts_even_when_it_arrives_first(journal: TaskJournal) -> None:
    """Per task and person only the rating given last is kept; an older click delivered late changes nothing."""
    core = _core(journal)
    await _answered(journal, "req-00000000f001")
    await _rate(core, "req-00000000f001", "U1", "up", at=10.0)
    await _rate(core, "req-00000000f001", "U1", "down", at=12.0)
    await _rate(core, "req-00000000f001", "U1", "up", at=11.0)  # clicked before the down, delivered after it
    await _rate(core, "req-00000000f001", "U2", "up", at=13.0)
    kept = await core.feedback("req-00000000f001")
    assert [(f.user_id, f.rating, f.at) for f in kept] == [("U1", "down", 12.0), ("U2", "up", 13.0)]
    assert kept[0].agent == "monitor"
    assert kept[0].model_id == "model-a"


async def test_a_what_was_wrong_text_is_redacted_kept_with_the_rating_and_survives_a_toggle(
    journal: TaskJournal,
) -> None:
    """The 👎 text is stored redacted with the person's rating, and a later click without text keeps it."""
    core = _core(journal)
    await _answered(journal, "req-00000000f002")
    await _rate(core, "req-00000000f002", "U1", "down", at=10.0)
    assert await core.explain_feedback(
        "req-00000000f002", user_id="U1", workspace_id="T1", text=f"  wrong alarm; my key {SECRET} leaked  "
    )
    await _rate(core, "req-00000000f002", "U1", "up", at=20.0)
    await _rate(core, "req-00000000f002", "U1", "down", at=30.0)
    (kept,) = await core.feedback("req-00000000f002")
    assert kept.rating == "down"
    assert kept.text.startswith("wrong alarm; my key [REDACTED")
    assert SECRET not in kept.text


async def test_a_text_from_someone_who_did_not_rate_or_from_another_workspace_is_refused(
    journal: TaskJournal,
) -> None:
    """Only a person with a kept rating of a task of that workspace can attach a text."""
    core = _core(journal)
    await _answered(journal, "req-00000000f003")
    await _rate(core, "req-00000000f003", "U1", "down", at=10.0)
    assert not await core.explain_feedback("req-00000000f003", user_id="U9", workspace_id="T1", text="hm")
    assert not await core.explain_feedback("req-00000000f003", user_id="U1", workspace_id="T2", text="hm")
    assert not await core.explain_feedback("not-an-id", user_id="U1", workspace_id="T1", text="hm")
    assert [f.text for f in await core.feedback("req-00000000f003")] == [""]


@pytest.mark.parametrize(
    ("request_id", "workspace", "channel", "reason"),
    [
        ("req-00000000dead", "T1", "C1", "unknown_task"),
        ("drop table tasks;", "T1", "C1", "malformed_request_id"),
        ("req-00000000f004", "T2", "C1", "other_workspace"),
        ("req-00000000f004", "T1", "C2", "other_channel"),
        ("req-00000000f005", "T1", "C1", "not_finished"),
    ],
)
async def test_a_button_value_naming_no_answer_of_that_workspace_and_channel_is_refused(
    journal: TaskJournal, request_id: str, workspace: str, channel: str, reason: str
) -> None:
    """The value is only an id: unknown, malformed, foreign or unanswered tasks are refused, nothing is kept."""
    core = _core(journal)
    await _answered(journal, "req-00000000f004")
    await _answered(journal, "req-00000000f005", status="running")
    outcome = await core.record_feedback(
        request_id, user_id="U1", rating="up", workspace_id=workspace, channel_id=channel, at=1.0
    )
    assert outcome == FeedbackRefused(reason)  # type: ignore[arg-type]
    assert await core.feedback("req-00000000f004") == []
    assert await core.feedback_counts("T1", since=0.0) == []
    assert "orch_feedback_total{" not in core.metrics.render().decode()


async def test_counts_per_agent_and_model_use_each_persons_latest_rating_and_the_metric_counts_kept_ones(
    journal: TaskJournal,
) -> None:
    """Counts group the latest ratings by agent and model within the period; the metric counts kept ratings."""
    core = _core(journal)
    await _answered(journal, "req-00000000f006")
    await _answered(journal, "req-00000000f007", agent="logs", model_id="model-b")
    await _answered(journal, "req-00000000f008", workspace_id="T2")
    await _rate(core, "req-00000000f006", "U1", "up", at=100.0)
    await _rate(core, "req-00000000f006", "U1", "down", at=101.0)
    await _rate(core, "req-00000000f006", "U2", "down", at=102.0)
    await _rate(core, "req-00000000f007", "U1", "up", at=103.0)
    await _rate(core, "req-00000000f007", "U2", "up", at=5.0)  # before the period
    await core.record_feedback(
        "req-00000000f008", user_id="U1", rating="up", workspace_id="T2", channel_id="C1", at=104.0
    )
    counts = await core.feedback_counts("T1", since=50.0)
    assert counts == [FeedbackCount("monitor", "model-a", up=0, down=2), FeedbackCount("logs", "model-b", up=1)]
    metrics = core.metrics.render().decode()
    assert 'orch_feedback_total{agent="monitor",model="model-a",rating="down"} 2.0' in metrics
    # The metric is per process, not per workspace: T2's rating of a monitor answer counts too.
    assert 'orch_feedback_total{agent="monitor",model="model-a",rating="up"} 2.0' in metrics
    assert 'orch_feedback_total{agent="logs",model="model-b",rating="up"} 2.0' in metrics
