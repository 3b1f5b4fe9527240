"""``orch-bot doctor``: check every dependency in order and say exactly what to fix.

It uses the bot's own settings and clients, so what passes here works for the bot: the AWS checks are
the toolsets' own probes (:class:`agents.tools.Probe`), made through the tools' AWS clients and error
translation, in the configured region (Cost Explorer and AWS Health answer only in us-east-1, and the
report says so). Each check prints ✓, ✗ (required: the bot cannot work) or ! (optional: a data source
some agents use is unavailable), with a one-line fix; a denied probe names the IAM action to allow.
The exit code is 0 only when every required check passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.aws import AwsClients
from agents.catalog import default_registry
from agents.errors import ConfigError, LLMError, ToolFailed
from agents.llm import BedrockChatModel, ChatMessage, ModelRequest, bedrock_client
from agents.policy import read_policy_file
from agents.runbooks import RunbookLibrary, check_directory
from agents.settings import detect_mode, load_settings
from agents.tools._aws import aws_errors
from bot.scopes import BOT_SCOPES
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agents.settings import Mode, Settings
    from agents.tools import Probe, Toolset

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

    def runbooks(self, settings: Settings) -> None:
        """The team's runbooks (``ORCH_RUNBOOKS_DIR``) load; a broken file is optional (the others still load)."""
        directory = settings.orch_runbooks_dir
        if not directory:
            self.report(Finding("Runbooks", "ok", "built-ins only (ORCH_RUNBOOKS_DIR is not set)"))
            return
        loaded, problems = check_directory(Path(directory), agents=default_registry().names())
        if not problems:
            self.report(Finding("Runbooks", "ok", f"{len(loaded)} loaded from {directory}"))
            return
        for problem in problems:
            self.report(
                Finding("Runbooks", "warn", str(problem), "fix the file; `orch-bot runbooks check` lists every problem")
            )

    def policy(self, settings: Settings) -> None:
        """The policy file (``ORCH_POLICY_FILE``) loads: its source, rules and every problem (required)."""
        path = settings.orch_policy_file
        if not path:
            self.report(
                Finding("Policy", "ok", "default (ORCH_POLICY_FILE is not set): every agent and runbook, no actions")
            )
            return
        library = RunbookLibrary(
            agents=default_registry().names(),
            directory=Path(settings.orch_runbooks_dir) if settings.orch_runbooks_dir else None,
        )
        runbooks = frozenset(runbook.name for runbook in library.all())
        loaded = read_policy_file(Path(path), agents=default_registry().names(), runbooks=runbooks)
        for problem in loaded.problems:
            self.report(Finding("Policy", "fail", str(problem), "fix the file: orch-bot will not start with it"))
        for warning in loaded.warnings:
            self.report(Finding("Policy", "warn", str(warning), "check the name; the policy still loads"))
        if loaded.policy is not None:
            policy = loaded.policy
            groups = policy.slack_usergroups()
            detail = f"{path}: {len(policy.rules)} rule(s), {len(policy.admins)} admin(s)"
            detail += f", {len(groups)} Slack user group(s)" if groups else ""
            self.report(Finding("Policy", "ok", detail))

    async def aws(self, aws: AwsClients) -> bool:
        """The AWS identity the standard chain finds (GetCallerIdentity needs no permission)."""
        try:
            with aws_errors("AWS identity", "sts"):
                sts = await aws.client("sts")
                identity = await sts.get_caller_identity()
        except ToolFailed as failure:
            self.report(
                Finding(
                    "AWS identity",
                    "fail",
                    failure.reason,
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

    async def data_sources(self, aws: AwsClients, toolsets: Iterable[Toolset]) -> None:
        """Each toolset's probes: one cheap read per data source the agents use, as the tools make it."""
        seen: set[tuple[str, str]] = set()
        for probe in (probe for toolset in toolsets for probe in toolset.probes):
            if (probe.service, probe.operation) in seen:
                continue
            seen.add((probe.service, probe.operation))
            await self._probe(aws, probe)

    async def _probe(self, aws: AwsClients, probe: Probe) -> None:
        where = f"in {aws.region}"
        if probe.global_api:
            where = f"in {probe.region(aws)}, the only region {probe.source} answers in"
        try:
            await probe.run(aws)
        except ToolFailed as failure:
            verdict: Verdict = "fail" if probe.required else "warn"
            if failure.denied_action:
                fix = f"allow {failure.denied_action} in the bot's IAM role (iam/orch-bot-readonly.json has it)"
                if not probe.required:
                    fix += f"; or leave it: {probe.optional_because}"
            else:
                fix = probe.optional_because or "see the error above, then run doctor again"
            # One line per check, even when a proxy or endpoint answered a whole HTML page.
            reason = " ".join(failure.reason.split())
            self.report(Finding(probe.source, verdict, f"{reason} ({where})", fix))
            return
        self.report(Finding(probe.source, "ok", f"{probe.action} allowed {where}"))


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
    doctor.runbooks(settings)
    doctor.policy(settings)
    async with AwsClients(region=settings.bedrock.region, max_connections=4) as aws:
        if await doctor.aws(aws):
            await doctor.bedrock(settings)
            await doctor.data_sources(aws, (agent.toolset for agent in default_registry().all()))
    failed = sum(1 for f in doctor.findings if f.verdict == "fail")
    warned = sum(1 for f in doctor.findings if f.verdict == "warn")
    if doctor.healthy:
        out.write(
            f"\nAll required checks passed{f' ({warned} optional data source(s) unavailable)' if warned else ''}.\n"
        )
        return 0
    out.write(f"\n{failed} required check(s) failed: fix them as shown, then run `orch-bot doctor` again.\n")
    return 1
