"""Settings: read once from the environment (and an optional ``.env``) into one typed object.

Nothing else in orch-bot reads the environment. Problems are collected, not raised one at a time, so an
operator sees every missing or malformed setting, and how to fix it, in a single message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import limits
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.errors import ConfigError

__all__ = ["DEFAULT_MODEL_ID", "DEFAULT_ROUTER_MODEL_ID", "Mode", "Settings", "detect_mode", "load_settings"]

# Claude Sonnet 4.5 through the global cross-region inference profile: callable from most commercial
# regions without choosing a geography prefix.
DEFAULT_MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
DEFAULT_ROUTER_MODEL_ID = "global.anthropic.claude-haiku-4-5-20251001-v1:0"

Mode = Literal["http", "socket", "worker"]

_FIXES: dict[str, str] = {
    "SLACK_BOT_TOKEN": "set it to the app's Bot User OAuth Token (xoxb-…), from OAuth & Permissions",
    "SLACK_SIGNING_SECRET": "set it to the Signing Secret from the app's Basic Information page",
    "SLACK_APP_TOKEN": "set it to an app-level token (xapp-…) with connections:write, from Basic Information",
    "SLACK_API_URL": "use an http(s) URL ending in /api/, e.g. https://slack.com/api/",
    "AWS_REGION": "set it to the region where Bedrock model access is enabled, e.g. us-east-1",
    "BEDROCK_MODEL_ID": "use a Bedrock model or inference profile id, e.g. " + DEFAULT_MODEL_ID,
    "BEDROCK_ROUTER_MODEL_ID": "use a Bedrock model or inference profile id, e.g. " + DEFAULT_ROUTER_MODEL_ID,
    "ORCH_RATE_LIMIT": "use COUNT/PERIOD, e.g. 5/minute, 30/hour or 100/day",
    "ORCH_LOG_FORMAT": "use json or console",
    "ORCH_STORE_URL": "use sqlite:///path/to/file.db (one process) or redis://host:6379/0 (replicas, separate workers)",
    "ORCH_METRICS_PORT": "use a TCP port number (0 turns the Socket Mode health/metrics listener off)",
    "ORCH_SHUTDOWN_GRACE": "use a number of seconds, e.g. 25",
    "ORCH_LOG_LEVEL": "use debug, info, warning or error",
}


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """What the Slack edge needs."""

    bot_token: str
    signing_secret: str
    app_token: str
    api_url: str


@dataclass(frozen=True, slots=True)
class BedrockSettings:
    """What the model adapter needs."""

    region: str
    model_id: str
    router_model_id: str
    max_attempts: int
    deadline_seconds: float
    breaker_threshold: int = 8
    breaker_cool_down_seconds: float = 30.0
    prompt_cache: bool = True


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    """Who may start how many tasks."""

    rate_limit: str
    max_tasks_per_user: int
    max_concurrent_tasks: int


class _SlackSecrets(BaseSettings):
    """The credentials, which no value can make invalid at parse time; checked per mode instead."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_app_token: SecretStr = SecretStr("")

    def mode_problems(self, mode: Mode) -> list[tuple[str, str]]:
        """Every credential ``mode`` needs but lacks or has malformed."""
        problems: list[tuple[str, str]] = []
        bot_token = self.slack_bot_token.get_secret_value()
        app_token = self.slack_app_token.get_secret_value()
        if not bot_token.startswith("xoxb-"):
            problems.append(("SLACK_BOT_TOKEN", _problem(bot_token, "SLACK_BOT_TOKEN", "xoxb-")))
        if mode == "http" and not self.slack_signing_secret.get_secret_value():
            problems.append(("SLACK_SIGNING_SECRET", "missing: " + _FIXES["SLACK_SIGNING_SECRET"]))
        if mode == "socket" and not app_token.startswith("xapp-"):
            problems.append(("SLACK_APP_TOKEN", _problem(app_token, "SLACK_APP_TOKEN", "xapp-")))
        return problems

    def auto_mode(self) -> Mode:
        """Socket Mode when an app token is configured, else HTTP."""
        return "socket" if self.slack_app_token.get_secret_value() else "http"


class Settings(_SlackSecrets):
    """Every setting orch-bot reads. Field names are the environment variable names, lower-cased."""

    slack_api_url: str = "https://slack.com/api/"
    aws_region: str = Field(default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    bedrock_model_id: str = DEFAULT_MODEL_ID
    bedrock_router_model_id: str = DEFAULT_ROUTER_MODEL_ID
    bedrock_max_attempts: int = Field(default=4, ge=1, le=10)
    bedrock_deadline_seconds: float = Field(default=90.0, gt=0, le=900)
    bedrock_breaker_threshold: int = Field(default=8, ge=1, le=1000)
    bedrock_breaker_cool_down_seconds: float = Field(default=30.0, gt=0, le=3600)
    orch_rate_limit: str = "5/minute"
    orch_max_tasks_per_user: int = Field(default=3, ge=1)
    orch_max_concurrent_tasks: int = Field(default=500, ge=1)
    orch_shed_lag_seconds: float = Field(default=1.0, ge=0, le=60)
    orch_store_url: str = "sqlite:///data/orch-bot.db"
    orch_retention_days: int = Field(default=30, ge=1, le=3650)
    orch_task_max_attempts: int = Field(default=2, ge=1, le=10)
    orch_claim_idle_seconds: float = Field(default=60.0, gt=0, le=600)
    orch_redis_prefix: str = "orch:"
    orch_metrics_port: int = Field(default=9090, ge=0, le=65535)
    orch_shutdown_grace: float = Field(default=25.0, ge=0, le=600)
    orch_log_format: Literal["json", "console"] = "json"
    orch_prompt_cache: Literal["on", "off"] = "on"
    orch_log_level: Literal["debug", "info", "warning", "error"] = "info"
    orch_event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    orch_worker_nice: int = Field(default=10, ge=0, le=19)
    orch_runbooks_dir: str = ""
    #: The authorization policy (YAML); unset: everyone may use every agent and runbook, nobody actions.
    orch_policy_file: str = ""
    orch_runbooks_poll_seconds: float = Field(default=2.0, ge=0, le=3600)
    orch_runbook_max_parallel_steps: int = Field(default=4, ge=1, le=64)
    orch_runbook_step_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    # Test hooks, off in production: the ``testbench`` agent with a tool that suspends and a counted write
    # tool appending to ORCH_TEST_WRITE_LOG, and a SIGKILL of the process at a write effect's worst moment.
    orch_test_tools: bool = False
    orch_test_write_log: str = ""
    orch_test_kill_at: Literal["", "before", "after", "recorded"] = ""

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("not an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("orch_store_url")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "redis://", "rediss://")):
            raise ValueError("unknown store")
        return value

    @field_validator("orch_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError as exc:
            raise ValueError(f"cannot read {value!r} as a rate") from exc
        return value

    @field_validator("bedrock_model_id", "bedrock_router_model_id", "aws_region")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty")
        return value.strip()

    @field_validator("orch_log_format", "orch_log_level", "orch_prompt_cache", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def slack(self) -> SlackSettings:
        """The Slack edge's slice."""
        return SlackSettings(
            bot_token=self.slack_bot_token.get_secret_value(),
            signing_secret=self.slack_signing_secret.get_secret_value(),
            app_token=self.slack_app_token.get_secret_value(),
            api_url=self.slack_api_url,
        )

    @property
    def bedrock(self) -> BedrockSettings:
        """The model adapter's slice."""
        return BedrockSettings(
            region=self.aws_region,
            model_id=self.bedrock_model_id,
            router_model_id=self.bedrock_router_model_id,
            max_attempts=self.bedrock_max_attempts,
            deadline_seconds=self.bedrock_deadline_seconds,
            breaker_threshold=self.bedrock_breaker_threshold,
            breaker_cool_down_seconds=self.bedrock_breaker_cool_down_seconds,
            prompt_cache=self.orch_prompt_cache == "on",
        )

    @property
    def admission(self) -> AdmissionSettings:
        """The admission slice."""
        return AdmissionSettings(
            rate_limit=self.orch_rate_limit,
            max_tasks_per_user=self.orch_max_tasks_per_user,
            max_concurrent_tasks=self.orch_max_concurrent_tasks,
        )

    @property
    def shared_store(self) -> bool:
        """Whether the store can be shared by several processes (Redis): needed for separate workers."""
        return self.orch_store_url.startswith(("redis://", "rediss://"))

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be logged or shown."""
        values = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token)
        return tuple(v.get_secret_value() for v in values if v.get_secret_value())


def _problem(value: str, name: str, prefix: str) -> str:
    what = "missing" if not value else f"does not start with {prefix}"
    return f"{what}: {_FIXES[name]}"


def load_settings(mode: Mode | None = None, **overrides: object) -> Settings:
    """Read the environment; raise :class:`ConfigError` listing every problem with its fix.

    With ``mode``, the credentials that mode needs are checked too, in the same message.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            fix = _FIXES.get(name, "see the configuration table in the README")
            problems.append((name, f"{error['msg'].removeprefix('Value error, ')}: {fix}"))
        if mode is not None:
            problems += _SlackSecrets(**overrides).mode_problems(mode)  # type: ignore[arg-type]
        raise ConfigError(problems) from None
    if mode is not None and (problems := settings.mode_problems(mode)):
        raise ConfigError(problems)
    return settings


def detect_mode() -> Mode:
    """The mode bare ``orch-bot`` runs in: Socket Mode when ``SLACK_APP_TOKEN`` is set, else HTTP."""
    return _SlackSecrets().auto_mode()
