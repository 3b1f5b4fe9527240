"""``orch-bot doctor`` and ``orch-bot console``: the first-run tools, run as a newcomer would run them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agents.catalog import default_registry
from agents.testing.aws_extras import AwsFault, FakeAwsJson
from bot.scopes import scope_names
from bot.testing.environment import ORCH_BOT, bot_env

if TYPE_CHECKING:
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


async def run(*args: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    """Run ``orch-bot args`` to completion: exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        str(ORCH_BOT),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_doctor_checks_exactly_the_scopes_the_manifest_asks_for() -> None:
    """The scope list doctor verifies is the manifest's, so the two cannot drift apart."""
    manifest = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == scope_names()


async def test_doctor_passes_against_working_services(slack: FakeSlack, bedrock: FakeBedrock, moto_url: str) -> None:
    """Every required check is ✓ (AWS Health, which needs a support plan, may be !) and the exit code is 0."""
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, aws_url=moto_url)
    code, out, err = await run("doctor", env=env)
    assert code == 0, out + err
    for check in (
        "Settings",
        "Slack bot token",
        "Slack scopes",
        "Signing secret",
        "AWS identity",
        "Bedrock model",
        "CloudWatch alarms",
        "CloudWatch Logs",
        "EC2",
    ):
        assert re.search(rf"^ ✓ {re.escape(check)}\b", out, re.MULTILINE), f"{check} not ✓ in:\n{out}"
    assert "All required checks passed" in out
    assert "Traceback" not in out + err


async def test_doctor_names_the_bedrock_fix_when_access_is_denied(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str
) -> None:
    """Model access denied: ✗ with the console/IAM fix, and a non-zero exit."""
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, aws_url=moto_url)
    bedrock.denied_models.add(MODEL)
    try:
        code, out, _ = await run("doctor", env=env)
    finally:
        bedrock.denied_models.discard(MODEL)
    assert code == 1
    assert re.search(r"^ ✗ Bedrock model\s+`" + re.escape(MODEL), out, re.MULTILINE)
    assert f"fix: enable model access for {MODEL} in the Bedrock console" in out
    assert "required check(s) failed" in out


def probes() -> list[Any]:
    """Every probe the shipped agents' toolsets declare, once each."""
    found = {(p.service, p.operation): p for agent in default_registry().all() for p in agent.toolset.probes}
    return list(found.values())


async def test_doctor_runs_every_toolsets_probe_in_the_configured_region(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str
) -> None:
    """Each toolset's probe is ✓ with its IAM action, in AWS_REGION; Cost Explorer and Health in us-east-1 only.

    moto answers the regional probes; the JSON fake answers Cost Explorer and Health (moto has no Health)
    and CloudWatch Logs, and records the region each call was signed for.
    """
    async with FakeAwsJson() as fake:
        fake.on("Logs_20140328.DescribeLogGroups", {"logGroups": []})
        fake.on("AWSInsightsIndexService.GetCostAndUsage", {"ResultsByTime": []})
        fake.on("AWSHealth_20160804.DescribeEvents", {"events": []})
        env = bot_env(
            slack_api_url=slack.base_url,
            bedrock_url=bedrock.endpoint_url,
            aws_url=moto_url,
            AWS_REGION="eu-west-1",
            AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=fake.url,
            AWS_ENDPOINT_URL_COST_EXPLORER=fake.url,
            AWS_ENDPOINT_URL_HEALTH=fake.url,
        )
        code, out, err = await run("doctor", env=env)
    assert code == 0, out + err
    assert len(probes()) >= 10
    for probe in probes():
        region = "us-east-1, the only region" if probe.global_api else "eu-west-1"
        line = rf"^ ✓ {re.escape(probe.source)}\s+{re.escape(probe.action)} allowed in {region}"
        assert re.search(line, out, re.MULTILINE), f"{probe.source} not ✓ in:\n{out}"
    assert {call.operation: call.region for call in fake.calls} == {
        "DescribeLogGroups": "eu-west-1",
        "GetCostAndUsage": "us-east-1",
        "DescribeEvents": "us-east-1",
    }
    assert "All required checks passed." in out


async def test_doctor_names_the_missing_iam_action_when_a_probe_is_denied(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str
) -> None:
    """AccessDenied on a required probe is ✗ and on an optional one !, each naming the IAM action to allow."""
    denied = AwsFault("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/orch is not authorized")
    async with FakeAwsJson() as fake:
        fake.on("Logs_20140328.DescribeLogGroups", denied)
        fake.on("AWSInsightsIndexService.GetCostAndUsage", denied)
        env = bot_env(
            slack_api_url=slack.base_url,
            bedrock_url=bedrock.endpoint_url,
            aws_url=moto_url,
            AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=fake.url,
            AWS_ENDPOINT_URL_COST_EXPLORER=fake.url,
        )
        code, out, err = await run("doctor", env=env)
    assert code == 1, out + err
    assert re.search(
        r"^ ✗ CloudWatch Logs\s+AccessDeniedException: the bot's role lacks logs:DescribeLogGroups", out, re.MULTILINE
    ), out
    assert "fix: allow logs:DescribeLogGroups in the bot's IAM role" in out
    assert re.search(
        r"^ ! Cost Explorer\s+AccessDeniedException: the bot's role lacks ce:GetCostAndUsage", out, re.MULTILINE
    )
    assert "fix: allow ce:GetCostAndUsage in the bot's IAM role" in out
    assert "1 required check(s) failed" in out
    assert "Traceback" not in out + err


async def test_doctor_reports_a_missing_token_with_its_fix(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """No bot token: ✗ naming the setting and where to find it; exit code 1."""
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url)
    env.pop("SLACK_BOT_TOKEN")
    code, out, _ = await run("doctor", env=env)
    assert code == 1
    assert "✗ Setting SLACK_BOT_TOKEN" in out
    assert "Bot User OAuth Token" in out


async def test_doctor_names_a_missing_scope_and_what_it_breaks(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str
) -> None:
    """A token without mpim:history: ✗ naming the scope and the method that will fail; exit code 1."""
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, aws_url=moto_url)
    slack.scopes.discard("mpim:history")
    try:
        code, out, _ = await run("doctor", env=env)
    finally:
        slack.scopes.add("mpim:history")
    assert code == 1
    assert re.search(r"^ ✗ Slack scope mpim:history\s+missing: conversations.replies will fail", out, re.MULTILINE), out
    assert "✓ Slack scopes" not in out


async def test_doctor_reports_a_revoked_token(slack: FakeSlack, bedrock: FakeBedrock, moto_url: str) -> None:
    """A token Slack rejects: ✗ Slack bot token with auth.test's answer."""
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, aws_url=moto_url)
    env["SLACK_BOT_TOKEN"] = "xoxb-revoked-0000000000"
    code, out, _ = await run("doctor", env=env)
    assert code == 1
    assert "✗ Slack bot token" in out
    assert "invalid_auth" in out


async def test_console_answers_offline_through_the_same_pipeline(tmp_path: Path) -> None:
    """``console --fake-llm``: no Slack, no AWS; routing, the answer, the footer and a request ID."""
    env = bot_env(slack_api_url="http://127.0.0.1:9/api/", bedrock_url="http://127.0.0.1:9")
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(key)
    code, out, err = await run("console", "--fake-llm", "why is checkout slow?", env=env)
    assert code == 0, err
    assert "→ general" in out
    assert "echo: why is checkout slow?" in out
    assert re.search(r"req-[0-9a-f]{12}\]", out)


async def test_console_session_validates_like_slack(tmp_path: Path) -> None:
    """Interactive: help lists agents, a misspelt agent is corrected with a request ID, exit leaves cleanly."""
    env = bot_env(slack_api_url="http://127.0.0.1:9/api/", bedrock_url="http://127.0.0.1:9")
    code, out, _ = await run("console", "--fake-llm", env=env, stdin=b"help\ngenral: hi\nexit\n")
    assert code == 0
    assert "monitor:" in out
    assert "Did you mean `general`?" in out
    assert re.search(r"Request ID: req-[0-9a-f]{12}", out)
