"""Runbooks from Slack, end to end: ``run incident-triage service=checkout`` over the fakes and moto.

The model is scripted per agent (by its system prompt): the monitor step calls ``list_alarms`` on moto
and reports the seeded alarm, the logs and infra steps report planted facts, and the general agent's
summary repeats every fact it finds in its prompt, so the synthesis can only carry them if the earlier
steps' outputs reached it.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections import Counter
from typing import TYPE_CHECKING

import boto3
import pytest

from agents.testing.bedrock import Reply, echo_reply
from bot.testing.environment import bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from agents.testing.bedrock import ConverseCall, FakeBedrock
    from bot.testing.slack import FakeSlack

FACT = re.compile(r"FACT-[A-Z]+-[0-9]+")
STREAM_METHODS = {"chat.startStream", "chat.appendStream", "chat.stopStream"}


def texts(call: ConverseCall, part: str) -> str:
    """All text in the request's ``system`` or last message."""
    if part == "system":
        blocks = call.body.get("system") or []
    else:
        blocks = (call.body.get("messages") or [{}])[-1].get("content") or []
    return "\n".join(
        b["text"] if "text" in b else json.dumps(b.get("toolResult", "")) for b in blocks if isinstance(b, dict)
    )


def agent_of(call: ConverseCall) -> str:
    """Which agent a call is for, from its system prompt."""
    system = texts(call, "system")
    for agent, marker in (("monitor", "specialise in monitoring"), ("logs", "specialise in logs")):
        if marker in system:
            return agent
    return "infra" if "specialise in inventory" in system else "general"


def scripted(alarm: str, *, latency: float, errors_latency: float | None = None) -> Callable[[ConverseCall], Reply]:
    """The model, by agent: planted facts, a real tool call for monitor, a summary that repeats facts."""

    def reply(call: ConverseCall) -> Reply:
        agent, last = agent_of(call), texts(call, "last")
        if agent == "monitor" and "toolResult" not in json.dumps(call.body["messages"][-1]):
            return Reply(tool_uses=[{"name": "list_alarms", "input": {"state": "ALARM"}}], latency=latency)
        if agent == "monitor":
            seen = alarm in last and "Threshold crossed" in last
            return Reply(text=f"FACT-ALARMS-1: {alarm} in ALARM ({seen})", latency=0.05)
        if agent == "logs":
            return Reply(text="FACT-ERRORS-2: 42 payment timeouts", latency=errors_latency or latency)
        if agent == "infra":
            return Reply(text="FACT-DEPLOY-3: 2 of 3 tasks running, deployed 10:02", latency=latency)
        if "incident summary" in last:
            return Reply(text="Summary: " + ", ".join(FACT.findall(last)), latency=0.05)
        return echo_reply(call)

    return reply


@pytest.fixture
def alarm(moto_url: str) -> str:
    """A CloudWatch alarm in ALARM in moto for the checkout service."""
    name = unique("checkout-latency-")
    cloudwatch = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="TargetResponseTime",
        Namespace="AWS/ApplicationELB",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Threshold crossed: 3.2 > 1")
    return name


@pytest.fixture
def model(bedrock: FakeBedrock) -> Iterator[FakeBedrock]:
    """The fake Bedrock, its default reply restored afterwards."""
    before = bedrock.default_reply
    bedrock.peak_in_flight = 0
    yield bedrock
    bedrock.default_reply = before


def step_cards(slack: FakeSlack, channel: str) -> list[tuple[str, str]]:
    """``(id, status)`` of every task_update chunk sent in ``channel``, in order."""
    return [
        (chunk["id"], chunk["status"])
        for c in slack.calls
        if in_channel(channel)(c) and c.method in STREAM_METHODS
        for chunk in c.args.get("chunks") or ()
        if chunk.get("type") == "task_update"
    ]


async def test_incident_triage_runs_its_steps_in_parallel_and_streams_one_grounded_summary(
    bot: BotProcess, slack: FakeSlack, model: FakeBedrock, alarm: str
) -> None:
    """The plan shows every step; the three independent steps overlap; the summary carries each step's fact."""
    model.default_reply = scripted(alarm, latency=1.5)
    channel = unique("C")
    calls_before = len(slack.calls)
    started = time.monotonic()
    ack = await bot.command(
        "run incident-triage service=checkout", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    assert ack.status == 200
    text = await final_text(slack, channel, timeout=30)
    wall = time.monotonic() - started
    assert "Summary: FACT-ALARMS-1, FACT-ERRORS-2, FACT-DEPLOY-3" in text
    # The three steps without needs were at the model at the same time.
    assert model.peak_in_flight >= 3
    # The summary's prompt held the other steps' outputs, each as a delimited block of data.
    (summary_call,) = [c for c in model.answer_calls() if "incident summary" in texts(c, "last")]
    prompt = texts(summary_call, "last")
    assert '<step_output step="alarms" ok="true">' in prompt
    assert f"FACT-ALARMS-1: {alarm} in ALARM (True)" in prompt  # the monitor step read moto's alarm
    assert "FACT-ERRORS-2" in prompt
    assert "FACT-DEPLOY-3" in prompt
    # The checklist: a plan of task cards, every step pending first, then in progress, then complete.
    (start,) = [c for c in slack.calls if in_channel(channel)(c) and c.method == "chat.startStream"]
    assert start.args["task_display_mode"] == "plan"
    cards = step_cards(slack, channel)
    steps = ("alarms", "errors", "deploy", "summary")
    assert cards[:4] == [(f"step-{s}", "pending") for s in steps]
    for step in steps:
        assert [status for card, status in cards if card == f"step-{step}"] == ["pending", "in_progress", "complete"]
    # Each step's full output is a file in the thread, not a wall of text.
    (upload,) = await slack.wait_for(
        "files.completeUploadExternal", where=lambda c: c.args.get("channel_id") == channel, timeout=10
    )
    (file,) = upload.args["files"]
    assert file["title"].startswith("Step outputs of incident-triage")
    outputs = slack.uploaded_files[file["id"]].decode()
    for step, fact in (("alarms", "FACT-ALARMS-1"), ("errors", "FACT-ERRORS-2"), ("deploy", "FACT-DEPLOY-3")):
        assert f"## {step} (" in outputs
        assert fact in outputs
    made = Counter(c.method for c in slack.calls[calls_before:] if c.method != "auth.test")
    (request_id,) = {line["request_id"] for line in bot.log_lines() if line.get("runbook") == "incident-triage"} & {
        line.get("request_id") for line in bot.log_lines() if line.get("event") == "runbook.step_finished"
    }
    finished = [
        line
        for line in bot.log_lines()
        if line.get("event") == "runbook.step_finished" and line.get("request_id") == request_id
    ]
    ran = sum(line["seconds"] for line in finished)
    run_seconds = next(
        line["seconds"]
        for line in bot.log_lines()
        if line.get("event") == "runbook.succeeded" and line.get("request_id") == request_id
    )
    print(  # noqa: T201 - the figures for the closing note
        f"\nincident-triage: run {run_seconds:.2f}s (ack to answer {wall:.2f}s) vs steps' sum {ran:.2f}s; "
        f"Slack calls {sum(made.values())}: {dict(made)}"
    )


async def test_invalid_parameters_get_a_private_error_with_the_usage_line(bot: BotProcess, slack: FakeSlack) -> None:
    """A missing required parameter, an unknown runbook: private, friendly, with the usage line and request ID."""
    url = slack.new_response_url
    missing = await bot.command(
        "run incident-triage minutes=2", user=unique("U"), channel=unique("C"), response_url=url()
    )
    body = missing.json()
    assert body["response_type"] == "ephemeral"
    assert "`service` is required" in body["text"]
    assert "`minutes` must be at least 5" in body["text"]
    assert "run incident-triage service=<text> [minutes=60] [region=us-east-1]" in body["text"]
    assert REQUEST_ID.search(body["text"])
    typo = await bot.command("run incident-triag service=x", user=unique("U"), channel=unique("C"), response_url=url())
    assert "Did you mean `incident-triage`?" in typo.json()["text"]
    listed = url()
    await bot.command("runbooks", user=unique("U"), channel=unique("C"), response_url=listed)
    (answer,) = await slack.wait_for("response_url", where=lambda c: c.args.get("_url") == listed, timeout=10)
    assert "run incident-triage service=<text>" in json.dumps(answer.args)


def http_bot(slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, path: Path, store: str) -> BotProcess:
    """An ``orch-bot serve`` of its own on ``store`` (processes given the same store share it)."""
    port = free_port()
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, store_url=store, aws_url=moto_url)
    return BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, path, port=port)


async def wait_logged(bot: BotProcess, event: str, count: int, timeout: float = 20) -> None:
    """Wait until ``event`` is in the bot's log ``count`` times."""
    deadline = time.monotonic() + timeout
    while bot.log().count(f'"{event}"') < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{event} x{count} not logged:\n{bot.log()[-3000:]}")
        await asyncio.sleep(0.05)


async def test_a_run_killed_mid_way_resumes_without_asking_the_model_for_finished_steps(
    slack: FakeSlack, model: FakeBedrock, moto_url: str, alarm: str, tmp_path: Path
) -> None:
    """Kill -9 while ``errors`` still runs: the next process re-uses alarms and deploy, runs errors and summary."""
    store = f"sqlite:///{tmp_path}/orch.db"
    model.default_reply = scripted(alarm, latency=0.1, errors_latency=60)
    first = http_bot(slack, model, moto_url, tmp_path / "first.log", store)
    await first.start()
    channel = unique("C")
    await first.command(
        "run incident-triage service=checkout", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    await wait_logged(first, "runbook.step_finished", 2)  # alarms and deploy are journalled; errors waits
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL

    model.default_reply = scripted(alarm, latency=0.1)
    before = len(model.answer_calls())
    second = http_bot(slack, model, moto_url, tmp_path / "second.log", store)
    await second.start()
    try:
        text = await final_text(slack, channel, timeout=30)
        assert "Summary: FACT-ALARMS-1, FACT-ERRORS-2, FACT-DEPLOY-3" in text
        asked = [agent_of(c) for c in model.answer_calls()[before:]]
        assert sorted(asked) == ["general", "logs"]  # no monitor or infra call: their outputs were re-used
        assert '"runbook.started"' in second.log()
        assert "'alarms', 'deploy'" in second.log() or '["alarms", "deploy"]' in second.log()
        reused = [card for card in step_cards(slack, channel) if card[1] == "complete"]
        assert ("step-alarms", "complete") in reused
    finally:
        await second.stop()


async def _bot_with_runbooks_folder(
    slack: FakeSlack, model: FakeBedrock, moto_url: str, tmp_path: Path, **settings: str
) -> tuple[Path, BotProcess]:
    """A started ``orch-bot serve`` whose ``ORCH_RUNBOOKS_DIR`` is a new, empty folder; the folder and the bot."""
    folder = tmp_path / "runbooks"
    folder.mkdir()
    port = free_port()
    env = bot_env(
        slack_api_url=slack.base_url,
        bedrock_url=model.endpoint_url,
        aws_url=moto_url,
        ORCH_RUNBOOKS_DIR=str(folder),
        **settings,
    )
    bot = BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "bot.log", port=port)
    await bot.start()
    return folder, bot


async def test_a_runbook_dropped_in_the_folder_is_listed_and_runs_without_a_restart(
    slack: FakeSlack, model: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """The team's folder is polled: a new file shows in ``/orchestrate runbooks`` and runs, no restart."""
    folder, bot = await _bot_with_runbooks_folder(slack, model, moto_url, tmp_path)
    try:
        (folder / "team.yaml").write_text(
            "name: team-check\ndescription: Our own check.\nparams:\n  env: {type: string, choices: [prod, dev]}\n"
            "steps:\n  - {id: ask, agent: general, prompt: 'Say TEAM-OK for {{ params.env }}'}\n"
        )
        deadline = time.monotonic() + 15
        listed = ""
        while "team-check" not in listed:
            assert time.monotonic() < deadline, listed
            await asyncio.sleep(0.5)
            url = slack.new_response_url()
            await bot.command("runbooks", user=unique("U"), channel=unique("C"), response_url=url)
            (reply,) = await slack.wait_for("response_url", where=lambda c, url=url: c.args.get("_url") == url)
            listed = json.dumps(reply.args)
        assert "Our own check." in listed
        channel = unique("C")
        await bot.command(
            "run team-check env=prod", user=unique("U"), channel=channel, response_url=slack.new_response_url()
        )
        assert "Say TEAM-OK for prod" in await final_text(slack, channel, timeout=20)  # the echoing model
    finally:
        await bot.stop()


async def _listing(bot: BotProcess, slack: FakeSlack, user: str) -> str:
    url = slack.new_response_url()
    await bot.command("runbooks", user=user, channel=unique("C"), response_url=url)
    (reply,) = await slack.wait_for("response_url", where=lambda c: c.args.get("_url") == url)
    return json.dumps(reply.args)


async def test_with_polling_off_sighup_reloads_and_admins_see_the_broken_files(
    slack: FakeSlack, model: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """ORCH_RUNBOOKS_POLL_SECONDS=0: a new file waits for SIGHUP; a broken one is shown, with its line, to admins only."""
    folder, bot = await _bot_with_runbooks_folder(slack, model, moto_url, tmp_path, ORCH_RUNBOOKS_POLL_SECONDS="0")
    admin, person = unique("U"), unique("U")
    slack.users[admin] = {"is_admin": True}
    try:
        (folder / "hup.yaml").write_text(
            "name: hup-check\ndescription: Loaded on SIGHUP.\n"
            "steps:\n  - {id: ask, agent: general, prompt: 'Say HUP-OK'}\n"
        )
        (folder / "broken.yaml").write_text("name: broken-one\nsteps:\n  - {id: a, agent: nobody, prompt: hi}\n")
        await asyncio.sleep(3)  # longer than the default poll: nothing may reload by itself
        assert "hup-check" not in await _listing(bot, slack, person)

        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "hup-check" not in (listed := await _listing(bot, slack, person)):
            assert time.monotonic() < deadline, listed
            await asyncio.sleep(0.2)
        assert "broken.yaml" not in listed  # a person who is not an admin sees the runbooks only
        for_admin = await _listing(bot, slack, admin)
        assert "hup-check" in for_admin
        assert "broken.yaml:3" in for_admin  # the file and line of the problem
        assert "nobody" in for_admin
    finally:
        slack.users.pop(admin, None)
        await bot.stop()
