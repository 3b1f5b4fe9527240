"""``orch-bot doctor``: check every dependency in order and say exactly what to fix.

It uses the bot's own settings and clients, so what passes here works for the bot. Each check prints
✓, ✗ (required: the bot cannot work) or ! (optional: a data source some agents use is unavailable),
with a one-line fix. The exit code is 0 only when every required check passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.errors import ConfigError, LLMError
from agents.llm import BedrockChatModel, ChatMessage, ModelRequest, bedrock_client
from agents.settings import detect_mode, load_settings
from bot.scopes import BOT_SCOPES
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.settings import Mode, Settings

__all__ = ["run_doctor"]

Verdict = Literal["ok", "fail", "warn"]
_MARK = {"ok": "✓", "fail": "✗", "warn": "!"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""


def _aws_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip().rstrip(":")
    return type(exc).__name__


# A cheap, read-only call per data source the agents read; (service, operation, kwargs, IAM action).
_DATA_SOURCES: tuple[tuple[str, str, str, dict[str, Any], str, Verdict], ...] = (
    ("CloudWatch alarms", "cloudwatch", "describe_alarms", {"MaxRecords": 1}, "cloudwatch:DescribeAlarms", "fail"),
    (
        "CloudWatch metrics",
        "cloudwatch",
        "get_metric_data",
        {
            "MetricDataQueries": [
                {
                    "Id": "probe",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization"},
                        "Period": 300,
                        "Stat": "Average",
                    },
                }
            ],
            "StartTime": datetime(2020, 1, 1, tzinfo=UTC),
            "EndTime": datetime(2020, 1, 1, 0, 10, tzinfo=UTC),
        },
        "cloudwatch:GetMetricData",
        "fail",
    ),
    ("CloudWatch Logs", "logs", "describe_log_groups", {"limit": 1}, "logs:DescribeLogGroups", "fail"),
    ("EC2", "ec2", "describe_instances", {"MaxResults": 5}, "ec2:DescribeInstances", "fail"),
    ("ECS", "ecs", "list_clusters", {"maxResults": 1}, "ecs:ListClusters", "fail"),
    ("RDS", "rds", "describe_db_instances", {"MaxRecords": 20}, "rds:DescribeDBInstances", "fail"),
    ("Lambda", "lambda", "list_functions", {"MaxItems": 1}, "lambda:ListFunctions", "fail"),
    (
        "Auto Scaling",
        "autoscaling",
        "describe_auto_scaling_groups",
        {"MaxRecords": 1},
        "autoscaling:DescribeAutoScalingGroups",
        "fail",
    ),
    ("AWS Health", "health", "describe_events", {"maxResults": 10}, "health:DescribeEvents", "warn"),
)


class Doctor:
    """Runs the checks, printing each as it completes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.findings: list[Finding] = []

    def report(self, finding: Finding) -> None:
        """Record and print one finding."""
        self.findings.append(finding)
        line = f" {_MARK[finding.verdict]} {finding.name:<22} {finding.detail}"
        if finding.fix and finding.verdict != "ok":
            line += f"\n   {'':<22} fix: {finding.fix}"
        self._out.write(line + "\n")
        self._out.flush()

    @property
    def healthy(self) -> bool:
        """Whether every required check passed."""
        return all(f.verdict != "fail" for f in self.findings)

    async def settings(self, mode: Mode) -> Settings | None:
        """Settings present and well-formed for ``mode``."""
        try:
            settings = load_settings(mode)
        except ConfigError as error:
            for name, fix in error.problems:
                self.report(Finding(f"Setting {name}", "fail", fix.split(": ", 1)[0], fix.split(": ", 1)[-1]))
            return None
        self.report(Finding("Settings", "ok", f"{mode} mode, region {settings.bedrock.region}"))
        return settings

    async def slack(self, settings: Settings, mode: Mode) -> None:
        """Bot token valid with the manifest's scopes; app token valid in Socket Mode."""
        slack = settings.slack
        async with aiohttp.ClientSession() as session:
            client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)
            try:
                response = await client.auth_test()
            except SlackApiError as exc:
                error = slack_error(exc)
                self.report(
                    Finding(
                        "Slack bot token",
                        "fail",
                        f"auth.test answered {error}",
                        "copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions; reinstall the app",
                    )
                )
                return
            except aiohttp.ClientError as exc:
                self.report(
                    Finding(
                        "Slack bot token",
                        "fail",
                        f"cannot reach {slack.api_url} ({type(exc).__name__})",
                        "check SLACK_API_URL and the network",
                    )
                )
                return
            self.report(Finding("Slack bot token", "ok", f"{response.get('team')} as @{response.get('user')}"))
            granted = {s.strip() for s in (response.headers.get("x-oauth-scopes") or "").split(",") if s.strip()}
            missing = [scope for scope in BOT_SCOPES if scope.name not in granted]
            for scope in missing:
                self.report(
                    Finding(
                        f"Slack scope {scope.name}",
                        "fail",
                        f"missing: {', '.join(scope.needed_by)} will fail ({scope.why})",
                        "add it under OAuth & Permissions (or recreate the app from manifest.yml) and reinstall",
                    )
                )
            if not missing:
                self.report(Finding("Slack scopes", "ok", f"all {len(BOT_SCOPES)} the manifest asks for"))
            if mode == "socket":
                await self._app_token(slack.app_token, slack.api_url, session)
            else:
                self.report(Finding("Signing secret", "ok", "present (Slack signs every request with it)"))

    async def _app_token(self, app_token: str, api_url: str, session: aiohttp.ClientSession) -> None:
        try:
            await AsyncWebClient(token=app_token, base_url=api_url, session=session).apps_connections_open(
                app_token=app_token
            )
        except SlackApiError as exc:
            error = slack_error(exc)
            self.report(
                Finding(
                    "Slack app token",
                    "fail",
                    f"apps.connections.open answered {error}",
                    "generate an app-level token with connections:write (Basic Information) and enable Socket Mode",
                )
            )
            return
        self.report(Finding("Slack app token", "ok", "Socket Mode connections can be opened"))

    async def aws(self, settings: Settings) -> bool:
        """The AWS identity the standard chain finds."""
        config = AioConfig(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=15)
        session = AioSession()
        try:
            async with session.create_client("sts", region_name=settings.bedrock.region, config=config) as sts:
                identity = await sts.get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            self.report(
                Finding(
                    "AWS identity",
                    "fail",
                    _aws_error(exc),
                    "give the bot credentials via the standard chain (role, AWS_PROFILE, or AWS_ACCESS_KEY_ID/SECRET)",
                )
            )
            return False
        self.report(Finding("AWS identity", "ok", str(identity.get("Arn", "?"))))
        return True

    async def bedrock(self, settings: Settings) -> None:
        """Each configured model answers a minimal request."""
        bedrock = settings.bedrock
        async with bedrock_client(region=bedrock.region, max_connections=4, read_timeout=30) as client:
            model = BedrockChatModel(client)
            for label, model_id in (
                ("Bedrock model", bedrock.model_id),
                ("Bedrock router model", bedrock.router_model_id),
            ):
                started = time.perf_counter()
                request = ModelRequest(
                    model_id=model_id, system="Reply with ok.", messages=(ChatMessage("user", "ping"),), max_tokens=5
                )
                try:
                    await model.converse(request)
                except LLMError as error:
                    self.report(
                        Finding(
                            label, "fail", f"`{model_id}`: {error.code} ({error})", _bedrock_fix(error.code, model_id)
                        )
                    )
                    continue
                ms = (time.perf_counter() - started) * 1000
                self.report(Finding(label, "ok", f"`{model_id}` answered in {ms:.0f} ms"))

    async def data_sources(self, settings: Settings) -> None:
        """A cheap read per data source the agents use."""
        config = AioConfig(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=15)
        session = AioSession()
        for label, service, operation, kwargs, action, severity in _DATA_SOURCES:
            region = "us-east-1" if service == "health" else settings.bedrock.region
            try:
                async with session.create_client(service, region_name=region, config=config) as client:  # type: ignore[call-overload]
                    call: Callable[..., Awaitable[Any]] = getattr(client, operation)
                    await call(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                fix = f"allow {action} (see iam/orch-bot-readonly.json)"
                if service == "health":
                    fix = "AWS Health needs a Business or Enterprise support plan; the monitor agent works without it"
                self.report(Finding(label, severity, _aws_error(exc), fix))
                continue
            self.report(Finding(label, "ok", f"{action} allowed"))


def _bedrock_fix(code: str, model_id: str) -> str:
    if code == "llm_access_denied":
        return f"enable model access for {model_id} in the Bedrock console, and grant bedrock:InvokeModel on it"
    if code == "llm_model_not_found":
        return "set the model id to a model or inference profile available in AWS_REGION"
    if code == "llm_no_credentials":
        return "give the bot AWS credentials via the standard chain"
    return "check Bedrock's service health and quotas in this region, then run doctor again"


async def run_doctor(out: TextIO) -> int:
    """Run every check; 0 when every required one passed, 1 otherwise."""
    mode = detect_mode()
    doctor = Doctor(out)
    out.write(f"orch-bot doctor ({mode} mode)\n")
    settings = await doctor.settings(mode)
    if settings is None:
        out.write("\nFix the settings above, then run `orch-bot doctor` again.\n")
        return 1
    await doctor.slack(settings, mode)
    if await doctor.aws(settings):
        await doctor.bedrock(settings)
        await doctor.data_sources(settings)
    failed = sum(1 for f in doctor.findings if f.verdict == "fail")
    warned = sum(1 for f in doctor.findings if f.verdict == "warn")
    if doctor.healthy:
        out.write(
            f"\nAll required checks passed{f' ({warned} optional data source(s) unavailable)' if warned else ''}.\n"
        )
        return 0
    out.write(f"\n{failed} required check(s) failed: fix them as shown, then run `orch-bot doctor` again.\n")
    return 1
