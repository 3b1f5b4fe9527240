"""What users read when something is not an answer: usage help and every failure, each with the fix.

Every failure message says what happened, what to do, and the request ID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.errors import (
    BudgetExceeded,
    InvalidTask,
    LLMAccessDenied,
    LLMCircuitOpen,
    LLMContentBlocked,
    LLMContextTooLong,
    LLMError,
    LLMModelFailed,
    LLMModelNotFound,
    LLMNoCredentials,
    LLMRequestRejected,
    LLMUnavailable,
    PolicyDenied,
    RateLimited,
    RunbookFailed,
    ShuttingDown,
    StoreUnavailable,
    TaskError,
    TooManyTasks,
)
from agents.runbooks import listing
from agents.task import MAX_TASK_CHARS
from bot.usage import reset_time

if TYPE_CHECKING:
    from collections.abc import Collection

    from agents.catalog import AgentSpec
    from agents.runbooks import RunbookLibrary

__all__ = ["describe_failure", "failure_blocks", "runbook_list_blocks", "unexpected_failure", "usage_blocks"]


def _seconds(n: int) -> str:
    return f"{n} second{'s' if n != 1 else ''}"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def describe_failure(error: TaskError, *, region: str = "") -> tuple[str, str]:
    """``(what happened, what to do)`` for ``error``."""
    if isinstance(error, LLMError):
        return _describe_llm_failure(error, region=region)
    return _describe_task_failure(error)


def _describe_budget(error: BudgetExceeded) -> tuple[str, str]:
    used = f"{error.budget} of {error.limit:,} tokens is used up ({error.used:,} used today)"
    if error.step is not None:
        headline = f"The runbook stopped at step `{error.step}`: {used}. The steps that finished are shown above."
    else:
        headline = f"I can't run this: {used}."
    return headline, f"It resets {reset_time(error.resets_at)}. `/orchestrate usage` shows where you stand."


def _describe_task_failure(error: TaskError) -> tuple[str, str]:  # noqa: PLR0911 - one case per error type
    if isinstance(error, BudgetExceeded):
        return _describe_budget(error)
    if isinstance(error, RunbookFailed):
        return (
            f"The runbook stopped: step `{error.step}` failed ({error.reason}).",
            "The steps that finished are shown above. Try again later, or ask the step's question directly.",
        )
    if isinstance(error, PolicyDenied):
        return _not_allowed(error)
    if isinstance(error, InvalidTask):
        fix = f"Try `/orchestrate {error.hint}`." if error.hint else "Try `/orchestrate help` for examples."
        stop = "" if error.reason.endswith(("?", ".", "!")) else "."
        return f"I couldn't run that: {error.reason}{stop}", fix
    if isinstance(error, RateLimited):
        return (
            f"You've reached the limit of {error.limit} tasks.",
            f"Try again in {_seconds(error.retry_after)}.",
        )
    if isinstance(error, TooManyTasks):
        return _too_many(error)
    if isinstance(error, ShuttingDown):
        return "orch is restarting.", f"Try again in a moment (about {_seconds(error.retry_after)})."
    if isinstance(error, StoreUnavailable):
        return (
            "Your task could not be recorded: orch's task store is unreachable, so nothing was started.",
            "Please try again in a minute; if it keeps happening, an admin can check `/orch-health`.",
        )
    return "Something went wrong while running your task.", "Try again; if it persists, tell an admin."


def _not_allowed(error: PolicyDenied) -> tuple[str, str]:
    """What was refused and who can grant it: the admins, mentioned (the refusal is only shown to the asker)."""
    if error.what == "agents":
        headline = "You don't have access to any of orch's agents here."
    else:
        headline = f"You don't have access to the `{error.asked}` {error.what} here."
    if error.admins:
        admins = ", ".join(f"<@{admin}>" for admin in sorted(error.admins))
        fix = f"Ask an admin to grant it in orch's policy: {admins}."
    else:
        fix = "Ask whoever runs orch-bot to grant it in its policy file (`ORCH_POLICY_FILE`)."
    if error.what != "agents":
        fix += " `/orchestrate help` lists what you may use here."
    return headline, fix


def _too_many(error: TooManyTasks) -> tuple[str, str]:
    if error.scope == "user":
        return (
            f"You already have {error.limit} tasks running.",
            f"Wait for one to finish and try again (about {_seconds(error.retry_after)}).",
        )
    if error.scope == "busy":
        return (
            "orch is overloaded right now and is turning new tasks away so it can answer the ones it has.",
            f"Try again in {_seconds(error.retry_after)}.",
        )
    return f"orch is at capacity: {error.limit} tasks are running.", f"Try again in {_seconds(error.retry_after)}."


#: What each retryable Bedrock failure means, when retries did not get past it (by vendor code).
_UNAVAILABLE_BECAUSE = {
    "ModelNotReadyException": "The model is not ready to serve requests yet (Bedrock is still loading it)",
    "ModelStreamErrorException": "Amazon Bedrock's answer kept breaking off mid-stream",
}


def _describe_unavailable(error: LLMUnavailable) -> tuple[str, str]:
    code = error.last.vendor_code
    if code in _UNAVAILABLE_BECAUSE:
        headline = _UNAVAILABLE_BECAUSE[code]
    else:
        headline = f"Amazon Bedrock is {'busy (throttling requests)' if error.throttled else 'not answering'}"
    return (
        f"{headline}; I tried {_times(error.attempts)}.",
        "Try again in a minute. If it keeps happening, ask an admin to check Bedrock quotas and `/orch-health`.",
    )


def _describe_model_trouble(error: LLMError) -> tuple[str, str] | None:
    """Failures of the model on this request (not of the bot's setup), each with its own fix."""
    if isinstance(error, LLMUnavailable):
        return _describe_unavailable(error)
    if isinstance(error, (LLMContentBlocked, LLMContextTooLong)):
        return _describe_refused_content(error)
    if isinstance(error, LLMCircuitOpen):
        return (
            (
                f"Amazon Bedrock is unavailable, retrying in {_seconds(error.retry_after)}: its last "
                f"{error.failures} calls failed, so I paused calls to it instead of making you wait."
            ),
            f"Ask again in {_seconds(error.retry_after)}; `/orch-health` shows when Bedrock is back.",
        )
    if isinstance(error, LLMModelFailed) and error.timed_out:
        return (
            "The model took longer than its time limit to answer this.",
            "Ask a narrower question (one service, a shorter time window), or try again.",
        )
    if isinstance(error, LLMModelFailed):
        return (
            "The model failed while working on this request (Bedrock reported a model error).",
            "Try again, or rephrase the question; if it keeps happening, tell an admin.",
        )
    return None


def _describe_refused_content(error: LLMContentBlocked | LLMContextTooLong) -> tuple[str, str]:
    if isinstance(error, LLMContentBlocked) and error.reason == "guardrail_intervened":
        return (
            "A Bedrock guardrail set up for this bot stopped the answer.",
            (
                "Rephrase the question without the blocked topic; if you think it is wrong, ask an admin "
                "to review the guardrail."
            ),
        )
    if isinstance(error, LLMContentBlocked):
        return (
            "The model's content filter stopped the answer.",
            "Rephrase the question; if you think it is wrong, tell an admin.",
        )
    return (
        "This conversation is too long for the model, even after I trimmed older messages and tool results.",
        "Start a new thread, or ask a narrower question (a shorter time window, one service).",
    )


def _describe_llm_failure(error: LLMError, *, region: str) -> tuple[str, str]:
    trouble = _describe_model_trouble(error)
    if trouble is not None:
        return trouble
    if isinstance(error, LLMAccessDenied):
        return (
            f"The bot's AWS role cannot invoke model `{error.model_id}`.",
            "An admin must enable model access in the Bedrock console or grant `bedrock:InvokeModel` on it.",
        )
    if isinstance(error, LLMModelNotFound):
        where = f" in region `{region}`" if region else ""
        return (
            f"Bedrock has no model `{error.model_id}`{where}.",
            "An admin must set `BEDROCK_MODEL_ID` to a model or inference profile available there.",
        )
    if isinstance(error, LLMNoCredentials):
        return (
            "The bot has no AWS credentials.",
            ("An admin must give it credentials through the standard AWS chain (role, profile or environment)."),
        )
    if isinstance(error, LLMRequestRejected):
        return (
            "Bedrock rejected the request.",
            "Try a shorter question or start a new thread; if it persists, tell an admin.",
        )
    return "Amazon Bedrock could not answer.", "Try again; if it persists, tell an admin."


def _block_text(headline: str, fix: str, request_id: str) -> str:
    return f":warning: {headline}\n{fix}\nRequest ID: `{request_id}`"


def failure_blocks(error: TaskError, request_id: str, *, region: str = "") -> tuple[str, list[dict[str, Any]]]:
    """``(fallback text, blocks)`` for a failure, ready for chat.postMessage or a response_url."""
    headline, fix = describe_failure(error, region=region)
    text = _block_text(headline, fix, request_id)
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def unexpected_failure(request_id: str) -> tuple[str, list[dict[str, Any]]]:
    """The message for a bug: no details, just the request ID to report."""
    text = _block_text(
        "Something went wrong on our side while handling that.",
        "Try again; if it persists, give an admin the request ID below.",
        request_id,
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def usage_blocks(
    agents: Collection[AgentSpec], *, rate_limit: str, max_per_user: int
) -> tuple[str, list[dict[str, Any]]]:
    """Usage help: the forms, every agent this person may use here with an example, and the limits."""
    listed = (
        "\n".join(
            f"• `{agent.name}`: {agent.description}\n   e.g. `/orchestrate {agent.examples[0]}`"
            if agent.examples
            else f"• `{agent.name}`: {agent.description}"
            for agent in agents
        )
        or "None here: ask an admin for access in orch's policy."
    )
    text = (
        "*orch: ask about your systems in plain language*\n"
        "`/orchestrate <task>`: I pick the agent.\n"
        "`/orchestrate <agent>: <task>`: you pick it.\n"
        "`@orch <task>` in a channel or thread, or a direct message: I answer in the thread, "
        "with the thread so far as context.\n"
        "`/orchestrate run <runbook> key=value …`: a multi-step investigation; `/orchestrate runbooks` lists them.\n"
        "`/orchestrate history`: your recent tasks. `/orchestrate usage`: your tokens today. "
        "`/orch-health`: how I'm doing.\n\n"
        f"*Agents you may use here*\n{listed}\n\n"
        f"*Limits*: {rate_limit} tasks per person, {max_per_user} at a time, "
        f"{MAX_TASK_CHARS:,} characters per task."
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def runbook_list_blocks(
    library: RunbookLibrary, *, admin: bool, only: Collection[str] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """``/orchestrate runbooks``: each runbook (``only`` those listed) with its parameters and an example.

    Admins also see broken files.
    """
    text = listing(library, problems=admin, only=only).replace("`run ", "`/orchestrate run ")
    return text, [{"type": "markdown", "text": text[:12_000]}]
