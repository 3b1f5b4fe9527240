"""Reading what the bot sent to the fake Slack."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fakes.slack import SlackCall

REQUEST_ID = re.compile(r"req-[a-z0-9]{8,}")


def in_channel(channel: str) -> Callable[[SlackCall], bool]:
    """Match calls addressed to ``channel``."""
    return lambda call: call.args.get("channel") == channel


def message_text(call: SlackCall) -> str:
    """All text of a message call: fallback text plus every block's text."""
    parts = [str(call.args.get("text", ""))]
    for block in call.args.get("blocks") or []:
        text = block.get("text")
        parts.append(text if isinstance(text, str) else (text or {}).get("text", ""))
        parts.extend(element.get("text", "") for element in block.get("elements", []))
    return "\n".join(parts)
