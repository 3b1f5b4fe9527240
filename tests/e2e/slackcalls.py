"""Reading what the bot sent to the fake Slack."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.testing.slack import FakeSlack, SlackCall

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
        for element in block.get("elements", []):
            inner = element.get("text", "")  # a button's text is an object
            parts.append(inner if isinstance(inner, str) else str((inner or {}).get("text", "")))
    return "\n".join(parts)


async def final_text(slack: FakeSlack, channel: str, *, timeout: float = 10.0, count: int = 1) -> str:
    """The text of the ``count``-th finished answer in ``channel``: a stopped stream or a final message.

    A streamed answer ends with ``chat.stopStream`` (its whole text is in the response); an unstreamed one
    (an error before any text, or streaming unavailable) ends with ``chat.update`` or ``chat.postMessage``
    carrying a footer or an error section; partial edits carry only the answer so far.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        finished = [
            c
            for c in slack.calls
            if in_channel(channel)(c)
            and c.response is not None
            and c.response.get("ok")
            and (
                c.method == "chat.stopStream"
                or (c.method in {"chat.update", "chat.postMessage"} and _is_final(c) and not _is_parent(c))
            )
        ]
        if len(finished) >= count:
            call = finished[count - 1]
            if call.method == "chat.stopStream":
                streamed = str((call.response or {}).get("message", {}).get("text", ""))
                return streamed + "\n" + message_text(call)
            return message_text(call)
        if asyncio.get_running_loop().time() > deadline:
            seen = [c.method for c in slack.calls if in_channel(channel)(c)]
            raise AssertionError(f"no finished answer #{count} in {channel} after {timeout}s; calls there: {seen}")
        await asyncio.sleep(0.02)


def _is_final(call: SlackCall) -> bool:
    """An answer's final form has a footer (context block) or is an error/usage section; partials have neither."""
    return any(block.get("type") in {"context", "section"} for block in call.args.get("blocks") or [])


def _is_parent(call: SlackCall) -> bool:
    """The visible "@ana asked" parent of a slash command (a top-level post)."""
    return call.method == "chat.postMessage" and "thread_ts" not in call.args


# What Slack would turn into a notification for many people: <!channel>, <!here>, <!everyone>, <!subteam^…>
# (labelled or not) and the bare words, which link_names/parse=full turn into the same.
MASS_MENTION = re.compile(
    r"<!(?:channel|here|everyone|subteam\^)[^<>]*>|(?<![A-Za-z0-9.\u200b])@(?:channel|here|everyone)(?![a-z0-9])",
    re.IGNORECASE,
)
USER_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")
#: ``(test, mass mentions it found posted)``, for the run's summary.
MASS_MENTIONS_POSTED: list[tuple[str, int]] = []


def _strings(node: object) -> list[str]:
    """Every text an API argument carries: ``text``, ``markdown_text`` and the texts inside blocks."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if isinstance(node, dict):
        return [
            s
            for key, value in node.items()
            if key in {"text", "markdown_text", "blocks", "elements", "fields", "chunks", "status", "view"}
            or isinstance(value, dict | list)
            for s in _strings(value)
        ]
    return []


def posted_text(slack: FakeSlack, *, channel: str, response_url: str | None = None) -> str:
    """Everything the bot showed in ``channel`` (and through ``response_url``).

    That is every accepted call, and each of its messages as Slack stores it, where a stream's pieces are
    joined (so a mention split across two appends shows whole).
    """
    calls = [
        c
        for c in slack.calls
        if (c.response or {}).get("ok")
        and (
            (c.method.startswith("chat.") and in_channel(channel)(c))
            or (c.method == "assistant.threads.setStatus" and c.args.get("channel_id") == channel)
            or (c.method == "response_url" and c.args.get("_url") == response_url)
        )
    ]
    stored = [
        m for (where, _ts), thread in slack.threads.items() if where == channel for m in thread if m.get("bot_id")
    ]
    return "\n".join(s for item in [*(c.args for c in calls), *stored] for s in _strings(item))


def count_mass_mentions(test: str, text: str) -> int:
    """How many live mass mentions ``text`` holds; recorded for the summary."""
    found = len(MASS_MENTION.findall(text))
    MASS_MENTIONS_POSTED.append((test, found))
    return found
