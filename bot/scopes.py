"""The Slack scopes orch asks for, and what each one is for: the one list.

``manifest.yml`` asks for exactly these (a test parses it and compares), ``orch-bot doctor`` checks the
installed token against them and names what a missing scope breaks, and the fake Slack in the tests
grants them and answers ``missing_scope`` for a method whose scope is not installed, as Slack does.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BOT_SCOPES", "HISTORY_SCOPE_BY_CHANNEL_TYPE", "Scope", "method_scopes", "scope_names"]


@dataclass(frozen=True, slots=True)
class Scope:
    """A bot scope, why orch needs it, and the Web API methods (or events) that need it."""

    name: str
    why: str
    needed_by: tuple[str, ...]


BOT_SCOPES: tuple[Scope, ...] = (
    Scope("app_mentions:read", "@orch in channels", ("event app_mention",)),
    Scope(
        "assistant:write",
        '"working…" status and suggested prompts in the agent pane',
        ("assistant.threads.setStatus", "assistant.threads.setSuggestedPrompts", "assistant.threads.setTitle"),
    ),
    Scope(
        "channels:history", "read the thread a mention is in (public channels), for context", ("conversations.replies",)
    ),
    Scope("groups:history", "the same in private channels the bot was invited to", ("conversations.replies",)),
    Scope("mpim:history", "the same in group DMs", ("conversations.replies",)),
    Scope("im:history", "direct messages to the bot, and their threads", ("event message.im", "conversations.replies")),
    Scope(
        "chat:write",
        "answers, in threads",
        (
            "chat.postMessage",
            "chat.update",
            "chat.delete",
            "chat.postEphemeral",
            "chat.startStream",
            "chat.appendStream",
            "chat.stopStream",
        ),
    ),
    Scope("commands", "/orchestrate, /orch-health", ("slash commands",)),
    Scope("files:read", "read log files people share in a thread with the bot", ("files.info", "file downloads")),
    Scope(
        "files:write",
        "answers too long for a message are attached as a file",
        ("files.getUploadURLExternal", "files.completeUploadExternal"),
    ),
    Scope("users:read", "workspace admins see everyone's /orchestrate history", ("users.info",)),
    Scope(
        "usergroups:read",
        "Slack user groups (S…) named in the policy file: who is in them",
        ("usergroups.users.list",),
    ),
)

#: ``conversations.replies`` needs the history scope of the conversation's type.
HISTORY_SCOPE_BY_CHANNEL_TYPE = {
    "channel": "channels:history",
    "group": "groups:history",
    "mpim": "mpim:history",
    "im": "im:history",
}


def scope_names() -> frozenset[str]:
    """Every scope orch asks for."""
    return frozenset(scope.name for scope in BOT_SCOPES)


def method_scopes(method: str) -> frozenset[str]:
    """The scopes any one of which lets the bot call ``method`` (empty: no scope is needed)."""
    return frozenset(scope.name for scope in BOT_SCOPES if method in scope.needed_by)
