"""The real ``orch-bot`` as tests and benchmarks run it: its tokens, its environment, and a free port.

The bot reads its settings from the environment, as an operator gives them; :func:`bot_env` is that
environment for a bot talking to the fakes, with nothing taken from the developer's shell (no AWS profile,
no credentials), so a run never reaches a real account.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

__all__ = ["APP_TOKEN", "BOT_TOKEN", "ORCH_BOT", "SIGNING_SECRET", "bot_env", "free_port"]

# Fake credentials, shaped as Slack's are; the fakes accept exactly these.
BOT_TOKEN = "xoxb-1111111111-2222222222-e2eBotTokenValue"  # noqa: S105 - a fake's token
APP_TOKEN = "xapp-1-A0TEST-3333333333-e2eAppTokenValue"  # noqa: S105
SIGNING_SECRET = "e2e-signing-secret-0f1e2d3c4b5a"  # noqa: S105
#: The ``orch-bot`` console script of the running interpreter's environment.
ORCH_BOT = Path(sys.executable).with_name("orch-bot")


def free_port() -> int:
    """A TCP port nothing is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(
    *, slack_api_url: str, bedrock_url: str, store_url: str | None = None, aws_url: str | None = None, **extra: str
) -> dict[str, str]:
    """A clean environment for the bot: no real AWS profile or credentials from the developer's shell."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT"}}
    return {
        **keep,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAE2ETESTKEY000000",
        "AWS_SECRET_ACCESS_KEY": "e2e-secret-access-key-value",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "ORCH_RATE_LIMIT": "5/minute",
        "ORCH_STORE_URL": store_url or f"sqlite:///{tempfile.mkdtemp(prefix='orch-e2e-')}/orch-bot.db",
        "ORCH_LOG_FORMAT": "json",
        "ORCH_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
        **({"AWS_ENDPOINT_URL": aws_url} if aws_url else {}),
        **extra,
    }
