"""What the agent loop does with each way a model turn can end (Bedrock's ``stopReason``).

Why it exists: a turn that stopped because it ran out of tokens, was blocked by a guardrail or wrote a
tool call that cannot be parsed looks, to code that only reads the text, like a finished answer. Each
stop reason the user should know about gets a decision here; the runner applies it.

| stopReason | what happens |
|---|---|
| ``end_turn``, ``stop_sequence`` | the answer is complete |
| ``tool_use`` | the tools run and the loop continues |
| ``max_tokens`` | the answer ends with a note that it was cut short and how to get the rest |
| ``guardrail_intervened``, ``content_filtered`` | the partial text is withdrawn; :class:`LLMContentBlocked` |
| ``malformed_tool_use``, ``malformed_model_output`` | the model is told and tries again (turn budget) |
| ``model_context_window_exceeded`` | thread context and tool results trimmed, turn retried once |

A second ``model_context_window_exceeded`` in the same task ends it with :class:`LLMContextTooLong`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, TypeVar

from agents.errors import LLMContentBlocked, LLMContextTooLong

if TYPE_CHECKING:
    from agents.llm import ChatMessage

__all__ = [
    "BLOCKED",
    "CONTEXT_FULL",
    "CUT_SHORT",
    "MALFORMED",
    "MALFORMED_FEEDBACK",
    "MALFORMED_STAND_IN",
    "blocked",
    "context_too_long",
    "cut_short_note",
    "kept_context",
    "trimmed",
]

T = TypeVar("T")

BLOCKED = frozenset({"guardrail_intervened", "content_filtered"})
MALFORMED = frozenset({"malformed_tool_use", "malformed_model_output"})
CUT_SHORT = "max_tokens"
CONTEXT_FULL = "model_context_window_exceeded"

#: The next user turn after a malformed tool call: what went wrong and what to do, for the model.
MALFORMED_FEEDBACK = (
    "Your last tool call could not be parsed (its input was not valid JSON for the tool's schema). "
    "Call the tool again with input that matches its schema exactly, or answer without it."
)
#: The assistant turn that stands for a malformed reply that had no usable text (turns must alternate).
MALFORMED_STAND_IN = "(a tool call that could not be parsed)"

_KEPT_CONTEXT_MESSAGES = 5
_KEPT_RESULT_CHARS = 1_500
_TRIM_NOTE = "\n[trimmed to fit the model's context window]"


def cut_short_note(max_tokens: int) -> str:
    """The line that ends an answer the model could not finish within ``max_tokens`` output tokens."""
    return (
        f"\n\n_(This answer was cut short: it reached the limit of {max_tokens:,} output tokens. "
        "Ask me to continue in this thread for the rest, or ask a narrower question.)_"
    )


def blocked(stop_reason: str) -> LLMContentBlocked:
    """The failure for a turn stopped by a guardrail or content filter."""
    return LLMContentBlocked(reason=stop_reason)


def context_too_long() -> LLMContextTooLong:
    """The failure once trimming did not make the conversation fit."""
    return LLMContextTooLong("the conversation does not fit the model's context window, even trimmed")


def trimmed(messages: list[ChatMessage], first_turn: ChatMessage) -> list[ChatMessage]:
    """``messages`` made smaller: ``first_turn`` in place of the first, every tool result cut short.

    The caller builds ``first_turn`` from the task with less thread context (see :func:`kept_context`).
    The latest tool results keep their start, which is where tools put their summaries.
    """
    smaller = [first_turn]
    for message in messages[1:]:
        results = tuple(
            dataclasses.replace(result, text=result.text[:_KEPT_RESULT_CHARS] + _TRIM_NOTE)
            if len(result.text) > _KEPT_RESULT_CHARS
            else result
            for result in message.tool_results
        )
        smaller.append(dataclasses.replace(message, tool_results=results))
    return smaller


def kept_context(context: tuple[T, ...]) -> tuple[T, ...]:
    """The most recent thread messages worth keeping when the context window is full."""
    return context[-_KEPT_CONTEXT_MESSAGES:]
