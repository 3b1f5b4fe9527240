"""Planted secrets never reach Bedrock, the bot's Slack messages, or its log.

They are planted everywhere a task reads: the question, the thread, log events and a shared file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from agents.testing.bedrock import Reply
from agents.testing.secrets_corpus import CORPUS
from bot.testing.slack import app_mention_event
from tests.e2e.harness import unique
from tests.e2e.slackcalls import final_text

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from agents.testing.bedrock import ConverseCall, FakeBedrock
    from bot.testing.slack import FakeSlack, SlackCall
    from tests.e2e.harness import BotProcess

# One of each kind the redactor knows; the fragments after each are what must never appear.
PLANTED = {
    "xoxb-2222222222-3333333333-PlantedSlackToken": "PlantedSlackToken",
    "xapp-1-A0PLANT-4444444444-plantedapptoken0": "plantedapptoken0",
    "AKIAPLANTEDKEY000001": "AKIAPLANTEDKEY000001",
    "aws_secret_access_key=PlantedSecretAccessKey0123456789": "PlantedSecretAccessKey",
    "Authorization: Bearer eyPlantedBearerToken.abcdefghij": "eyPlantedBearerToken",
    "postgres://app:PlantedDbPassw0rd@db.internal:5432/app": "PlantedDbPassw0rd",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIPlantedPrivateKeyBody\n-----END RSA PRIVATE KEY-----": "MIIPlantedPrivateKeyBody",
}


async def test_planted_secrets_reach_neither_bedrock_nor_logs(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, moto_url: str
) -> None:
    """Every Bedrock request body and every log line is free of every planted secret."""
    secrets = list(PLANTED)
    group = f"/app/secrets-{unique('x').lower()}"
    logs = boto3.client(
        "logs", region_name="us-east-1", endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    )
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now_ms - 1000 + i, "message": f"ERROR leaked {secret}"} for i, secret in enumerate(secrets)
        ],
    )
    channel = unique("C")
    parent = slack.seed_message(channel, "deploy creds: " + secrets[0])
    slack.seed_message(channel, "db: " + secrets[5], thread_ts=parent["ts"])
    shared = slack.share_file(
        channel, "leak.log", "\n".join(f"line {s}" for s in secrets).encode(), thread_ts=parent["ts"]
    )
    mention = slack.seed_message(
        channel, f"<@UBOT> logs: check {group} and the file, my key is {secrets[2]}", thread_ts=parent["ts"]
    )
    calls_before = len(bedrock.calls)
    bedrock.enqueue(
        Reply(
            tool_uses=[
                {"name": "filter_log_events", "input": {"log_group": group, "minutes": 60}},
                {"name": "read_shared_file", "input": {"file_id": shared["files"][0]["id"]}},
            ]
        ),
        Reply(text="Found leaked credentials in the logs; rotate them."),
    )
    await bot.event(
        app_mention_event(
            text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"], thread_ts=parent["ts"]
        )
    )
    await final_text(slack, channel, timeout=20)

    sent = json.dumps([call.body for call in bedrock.calls[calls_before:]])
    assert "leaked" in sent  # the tool results did reach the model…
    assert "[REDACTED" in sent  # …with the secrets replaced
    written = json.dumps(
        [c.args for c in slack.calls if c.args.get("channel") == channel and c.method.startswith("chat.")]
    )
    for fragment in PLANTED.values():
        assert fragment not in sent, f"{fragment} reached Bedrock"
        assert fragment not in bot.log(), f"{fragment} reached the log"
        assert fragment not in written, f"{fragment} reached Slack"


# --- every corpus format at every door --------------------------------------------------------------------

_QUESTION_CHARS = 1_800  # under the router's 2,000-character cut, so the router sees every planted secret
_THREAD_MESSAGE_CHARS = 1_400  # under the thread context's 1,500 characters a message
_THREAD_MESSAGES = 5  # and its 8,000 characters in all


def _batches(texts: list[str], limit: int) -> list[list[str]]:
    """``texts`` grouped in order, each group's joined length at most ``limit``."""
    groups: list[list[str]] = [[]]
    for text in texts:
        if groups[-1] and sum(len(t) + 1 for t in groups[-1]) + len(text) > limit:
            groups.append([])
        groups[-1].append(text)
    return groups


def _strings(value: object) -> Iterator[str]:
    """Every string inside a decoded JSON value (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _leaked(text: str) -> set[str]:
    """The corpus formats whose value or tail appears in ``text``."""
    return {sample.kind for sample in CORPUS if sample.value in text or sample.tail in text}


class QuotingModel:
    """A model that quotes back everything the bot's latest turn gave it (text and tool results).

    Answers that must call tools first are planned with :meth:`call_tools_next`; the quote goes with them, so
    what the model was given comes back to Bedrock in the next request, as a careless model's would.
    """

    def __init__(self) -> None:
        self._tool_turns: deque[list[dict[str, Any]]] = deque()

    def call_tools_next(self, *tool_uses: dict[str, Any]) -> None:
        """The next answer call asks for these tools (after quoting its input)."""
        self._tool_turns.append(list(tool_uses))

    def __call__(self, call: ConverseCall) -> Reply:
        messages = call.body.get("messages") or []
        latest = messages[-1] if messages else {}
        quoted = " | ".join(s for s in _strings(latest.get("content", [])) if s.strip()) or "nothing"
        tools = self._tool_turns.popleft() if self._tool_turns else []
        return Reply(text=f"You gave me: {quoted}", tool_uses=tools)


@pytest.fixture
def quoting_model(bedrock: FakeBedrock) -> Iterator[QuotingModel]:
    """The fake Bedrock answers with :class:`QuotingModel` for one test, then as before."""
    model, previous = QuotingModel(), bedrock.default_reply
    bedrock.default_reply = model
    yield model
    bedrock.default_reply = previous


@dataclass
class DoorLeaks:
    """Corpus formats seen, per door, in router requests, answer requests, the bot's log and its Slack calls."""

    router: dict[str, set[str]] = field(default_factory=dict)
    model: dict[str, set[str]] = field(default_factory=dict)
    log: dict[str, set[str]] = field(default_factory=dict)
    slack: dict[str, set[str]] = field(default_factory=dict)

    def record(
        self, door: str, calls: list[ConverseCall], answers: list[ConverseCall], log: str, posted: list[SlackCall]
    ) -> None:
        for call in calls:
            text = json.dumps(call.body) + "\n".join(_strings(call.body))
            target = self.model if any(call is answer for answer in answers) else self.router
            target.setdefault(door, set()).update(_leaked(text))
        self.log.setdefault(door, set()).update(_leaked(log))
        # Every Slack call the bot made in the window: messages, streams, edits, ephemerals, response_urls, uploads.
        sent = json.dumps([c.args for c in posted]) + "\n".join(s for c in posted for s in _strings(c.args))
        self.slack.setdefault(door, set()).update(_leaked(sent))

    def summary(self) -> str:
        rows = []
        tables = (("router", self.router), ("model", self.model), ("log", self.log), ("slack", self.slack))
        for name, table in tables:
            rows += [
                f"{door} -> {name}: {len(kinds)} of {len(CORPUS)} {sorted(kinds)}" for door, kinds in table.items()
            ]
        return "\n".join(rows)

    def total(self) -> int:
        tables = (self.router, self.model, self.log, self.slack)
        return sum(len(kinds) for table in tables for kinds in table.values())


class DoorRun:
    """Runs one task at a time and attributes the Bedrock calls and log lines it caused to a door."""

    def __init__(self, bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock) -> None:
        self.bot, self.slack, self.bedrock = bot, slack, bedrock
        self.leaks = DoorLeaks()

    @contextlib.asynccontextmanager
    async def door(self, name: str) -> AsyncIterator[None]:
        calls, log, posted = len(self.bedrock.calls), len(self.bot.log()), len(self.slack.calls)
        yield
        await asyncio.sleep(0.2)  # the task's last log lines are written just after its answer
        self.leaks.record(
            name,
            self.bedrock.calls[calls:],
            self.bedrock.answer_calls(),
            self.bot.log()[log:],
            [c for c in self.slack.calls[posted:] if c.method != "file_download"],
        )


def _plant_log_events(moto_url: str, planted: list[str]) -> str:
    """A new CloudWatch Logs group in moto holding one event per planted line; returns its name."""
    group = f"/app/corpus-{unique('x').lower()}"
    logs = boto3.client(
        "logs", region_name="us-east-1", endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    )
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now_ms = int(time.time() * 1000)
    events = [{"timestamp": now_ms - 5000 + i, "message": text} for i, text in enumerate(planted)]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
    return group


async def test_every_corpus_secret_is_kept_from_bedrock_slack_and_logs_at_every_door(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, quoting_model: QuotingModel
) -> None:
    """No corpus format reaches a Bedrock request (the router's included), a Slack call or a log line, from any door.

    Each format is planted in questions (echoed in the command's parent message), thread messages, a shared
    file and log events, and the model quotes everything it is given; last, a careless model writes every
    secret into its answer itself.
    """
    run = DoorRun(bot, slack, bedrock)
    planted = [sample.forms()["log line"] for sample in CORPUS]

    # Door 1: the question itself (slash command, routed by the model router).
    for batch in _batches(planted, _QUESTION_CHARS):
        channel = unique("C")
        async with run.door("question"):
            question = "why do these fail? " + " ; ".join(batch)
            await bot.command(question, user=unique("U"), channel=channel, response_url=slack.new_response_url())
            await final_text(slack, channel, timeout=20)

    # Door 2: thread messages, given to the model as context of a mention in the thread.
    threads = _batches(_batches(planted, _THREAD_MESSAGE_CHARS), _THREAD_MESSAGES)
    for thread in threads:
        channel = unique("C")
        parent = slack.seed_message(channel, "deploy is failing, see below")
        for message in thread:
            slack.seed_message(channel, "\n".join(message), thread_ts=parent["ts"])
        mention = slack.seed_message(channel, "<@UBOT> what went wrong here?", thread_ts=parent["ts"])
        async with run.door("thread"):
            event = app_mention_event(
                text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"], thread_ts=parent["ts"]
            )
            await bot.event(event)
            await final_text(slack, channel, timeout=20)

    # Door 3: a log file shared in the thread, read by the logs agent's tool.
    channel = unique("C")
    parent = slack.seed_message(channel, "here is the worker log")
    shared = slack.share_file(channel, "worker.log", "\n".join(planted).encode(), thread_ts=parent["ts"])
    mention = slack.seed_message(channel, "<@UBOT> logs: summarise the shared file", thread_ts=parent["ts"])
    quoting_model.call_tools_next({"name": "read_shared_file", "input": {"file_id": shared["files"][0]["id"]}})
    async with run.door("shared file"):
        event = app_mention_event(
            text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"], thread_ts=parent["ts"]
        )
        await bot.event(event)
        await final_text(slack, channel, timeout=20)

    # Door 4: CloudWatch Logs events, read by filter_log_events from moto.
    group = _plant_log_events(moto_url, planted)
    channel = unique("C")
    quoting_model.call_tools_next({"name": "filter_log_events", "input": {"log_group": group, "minutes": 60}})
    async with run.door("cloudwatch logs"):
        question = f"logs: what failed in {group}?"
        await bot.command(question, user=unique("U"), channel=channel, response_url=slack.new_response_url())
        await final_text(slack, channel, timeout=20)

    # Door 5: the model's own output. A careless model writes every secret into its answer, streamed in pieces.
    channel = unique("C")
    answer = "Here are the credentials you asked about:\n" + "\n".join(f"- {text}" for text in planted)
    bedrock.enqueue(Reply(text=answer))
    async with run.door("model output"):
        await bot.command(
            "general: list them", user=unique("U"), channel=channel, response_url=slack.new_response_url()
        )
        await final_text(slack, channel, timeout=20)

    print("\nleaked corpus formats per door (value or 12-character tail):\n" + run.leaks.summary())  # noqa: T201
    assert "question" in run.leaks.router, "the router model was asked"
    assert set(run.leaks.model) >= {"question", "thread", "shared file", "cloudwatch logs"}
    assert set(run.leaks.slack) >= {"question", "thread", "shared file", "cloudwatch logs", "model output"}
    tool_results = [s for call in bedrock.calls for s in _strings(call.body) if "worker-3" in s and "[REDACTED:" in s]
    assert tool_results, "the planted text (redacted) did reach the model"
    assert run.leaks.total() == 0, run.leaks.summary()
    assert _leaked(bot.log()) == set()  # and none in a line written after its door's window
