"""Every failure orch-bot knows how to explain, in one tree.

Vendor exceptions (botocore, aiohttp, slack_sdk) are translated into these exactly once, at the adapter
that talks to the vendor, with ``raise ... from exc``. Everything above the adapters deals only in these
types, and the Slack edge maps each one to a friendly message that says what happened, what to do, and
the request ID.

::

    OrchError
    ├── ConfigError                 a developer/operator mistake: bad settings; stops start-up
    ├── UserGroupUnavailable        a chat user group's members could not be read; has ``group_id``, ``reason``
    └── TaskError                   a runtime failure of one task; shown to its user
        ├── InvalidTask             the input cannot be run (empty, too long, unknown agent…)
        ├── PolicyDenied            the policy does not let this person use that here; has ``what``, ``asked``,
        │                           ``admins``, ``rule``
        ├── AdmissionDenied         the task is valid but may not run now
        │   ├── RateLimited         per-user rate limit; has ``retry_after``
        │   ├── TooManyTasks        per-user or global concurrency cap; has ``retry_after``
        │   └── ShuttingDown        the process is draining; has ``retry_after``
        ├── RunbookFailed           a runbook step failed (and may not be skipped); has ``step``, ``reason``
        ├── BudgetExceeded          a daily token budget is used up; has ``budget``, ``limit``, ``used``, ``resets_at``
        ├── StoreUnavailable        the task store (Redis, SQLite) cannot be reached; has ``store``, ``reason``
        ├── ToolFailed              a data source failed; goes back to the model as an error result
        │   └── InvalidToolInput    the model's tool input does not fit the tool's input model; has ``fields``
        └── LLMError                the model could not answer
            ├── LLMRetryable        worth another attempt (internal; surfaces as LLMUnavailable)
            │   ├── LLMThrottled
            │   └── LLMTransient    service unavailable, model not ready, stream broke off, connection errors
            ├── LLMUnavailable      retryable failures outlasted the retry budget; has ``attempts``
            ├── LLMCircuitOpen      Bedrock kept failing across tasks: calls paused; has ``retry_after``
            ├── LLMModelFailed      the model failed on this request (ModelError/ModelTimeout); not retried
            ├── LLMContentBlocked   a guardrail or content filter stopped the answer; has ``reason``
            ├── LLMContextTooLong   the conversation does not fit the model, even trimmed
            ├── LLMAccessDenied     the bot's role may not invoke the model; has ``model_id``
            ├── LLMModelNotFound    the model id does not exist in this region; has ``model_id``
            ├── LLMNoCredentials    no AWS credentials were found by the standard chain
            └── LLMRequestRejected  Bedrock rejected the request as invalid
"""

from __future__ import annotations

__all__ = [
    "AdmissionDenied",
    "BudgetExceeded",
    "ConfigError",
    "InvalidTask",
    "InvalidToolInput",
    "LLMAccessDenied",
    "LLMCircuitOpen",
    "LLMContentBlocked",
    "LLMContextTooLong",
    "LLMError",
    "LLMModelFailed",
    "LLMModelNotFound",
    "LLMNoCredentials",
    "LLMRequestRejected",
    "LLMRetryable",
    "LLMThrottled",
    "LLMTransient",
    "LLMUnavailable",
    "OrchError",
    "PolicyDenied",
    "RateLimited",
    "RunbookFailed",
    "ShuttingDown",
    "StoreUnavailable",
    "TaskError",
    "TooManyTasks",
    "ToolFailed",
    "UserGroupUnavailable",
]


class OrchError(Exception):
    """Base of every error orch-bot raises on purpose."""


class ConfigError(OrchError):
    """Settings are missing or malformed. ``problems``: ``(setting, problem and fix)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {fix}" for name, fix in problems))


class UserGroupUnavailable(OrchError):
    """A chat platform's user group (``group_id``) could not be read; ``reason`` says why (a vendor code)."""

    def __init__(self, *, group_id: str, reason: str) -> None:
        self.group_id = group_id
        self.reason = reason
        super().__init__(f"user group {group_id} unavailable: {reason}")


class TaskError(OrchError):
    """A failure of one task, explained to its user. ``code`` is stable and machine-readable."""

    code = "task_error"


class InvalidTask(TaskError):
    """The task text cannot be run as given. ``hint`` is an example of what would work."""

    code = "invalid_task"

    def __init__(self, reason: str, *, hint: str = "") -> None:
        self.reason = reason
        self.hint = hint
        super().__init__(reason)


class PolicyDenied(TaskError):
    """The policy does not let this person use ``asked`` here.

    ``what`` is the kind (``agent``, ``runbook``, or ``agents`` when the person may use none at all),
    ``asked`` the name (``infra``, ``incident-triage``; ``*`` for any agent), ``admins`` the user ids who
    can grant it, ``rule`` why no rule allowed it (for the audit log).
    """

    code = "not_allowed"

    def __init__(self, *, what: str, asked: str, admins: frozenset[str], rule: str) -> None:
        self.what = what
        self.asked = asked
        self.admins = admins
        self.rule = rule
        super().__init__(f"{what} {asked} not allowed: {rule}")


class AdmissionDenied(TaskError):
    """The task is valid but may not run now; ``retry_after`` is in seconds (at least 1)."""

    code = "admission_denied"

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = max(1, round(retry_after + 0.4999))
        super().__init__(message)


class RateLimited(AdmissionDenied):
    """The user sent more tasks than ``limit`` allows."""

    code = "rate_limited"

    def __init__(self, *, limit: str, retry_after: float) -> None:
        self.limit = limit
        super().__init__(f"rate limit {limit} reached", retry_after=retry_after)


class TooManyTasks(AdmissionDenied):
    """Too many tasks: for this user (``scope="user"``), this process (``"global"``), or it is overloaded.

    ``"busy"`` means the process's event loop is running late: new work would delay every answer.
    """

    code = "too_many_tasks"

    def __init__(self, *, scope: str, limit: int, retry_after: float = 10) -> None:
        self.scope = scope
        self.limit = limit
        super().__init__(f"{scope} concurrency cap of {limit} reached", retry_after=retry_after)


class ShuttingDown(AdmissionDenied):
    """The process is restarting and takes no new work."""

    code = "shutting_down"

    def __init__(self) -> None:
        super().__init__("the bot is restarting", retry_after=30)


class StoreUnavailable(TaskError):
    """The task store could not be reached, so nothing was recorded (translated in ``agents.stores``).

    ``store`` names it (``Redis``, ``SQLite``); ``reason`` is the kind of failure (the vendor error's type).
    """

    code = "store_unavailable"

    def __init__(self, *, store: str, reason: str) -> None:
        self.store = store
        self.reason = reason
        super().__init__(f"{store} unavailable ({reason})")


class ToolFailed(TaskError):
    """A tool could not get its data. ``source`` names the data source, ``reason`` says why, for people.

    ``retryable`` says the failure is transient (throttling, an unreachable endpoint): the model is told the
    user may try again shortly, rather than that something must be fixed. ``denied_action`` is the IAM
    action the bot's role lacks, when AWS denied access (``orch-bot doctor`` names it as the fix).
    """

    code = "tool_failed"

    def __init__(self, *, source: str, reason: str, retryable: bool = False, denied_action: str | None = None) -> None:
        self.source = source
        self.reason = reason
        self.retryable = retryable
        self.denied_action = denied_action
        super().__init__(f"{source}: {reason}")


class InvalidToolInput(ToolFailed):
    """The model called a tool with input its input model rejects; ``fields`` names each bad field."""

    code = "tool_invalid_input"

    def __init__(self, *, tool: str, source: str, problems: tuple[tuple[str, str], ...]) -> None:
        self.tool = tool
        self.fields = tuple(dict.fromkeys(field for field, _ in problems))
        details = "; ".join(f"{field}: {message}" for field, message in problems)
        super().__init__(source=source, reason=f"invalid input: {details}")


class LLMError(TaskError):
    """The language model could not produce an answer."""

    code = "llm_error"


class LLMRetryable(LLMError):
    """A failure worth another attempt. The retry policy consumes these; users see LLMUnavailable."""

    code = "llm_retryable"

    def __init__(self, message: str, *, vendor_code: str = "") -> None:
        self.vendor_code = vendor_code
        super().__init__(message)


class LLMThrottled(LLMRetryable):
    """Bedrock throttled the request."""

    code = "llm_throttled"


class LLMTransient(LLMRetryable):
    """Bedrock or the network failed in a way that usually passes."""

    code = "llm_transient"


class LLMUnavailable(LLMError):
    """Retryable failures outlasted the retry budget."""

    code = "llm_unavailable"

    def __init__(self, *, attempts: int, last: LLMRetryable) -> None:
        self.attempts = attempts
        self.last = last
        self.throttled = isinstance(last, LLMThrottled)
        super().__init__(f"gave up after {attempts} attempts: {last}")


class LLMCircuitOpen(LLMError):
    """Bedrock failed ``failures`` times in a row (throttled or unavailable) across tasks, so calls are paused.

    ``retry_after`` is in seconds (at least 1): when the breaker lets a probe call through again.
    """

    code = "llm_circuit_open"

    def __init__(self, *, retry_after: float, failures: int, last_code: str = "") -> None:
        self.retry_after = max(1, round(retry_after + 0.4999))
        self.failures = failures
        self.last_code = last_code
        super().__init__(f"Bedrock paused after {failures} failures in a row; retrying in {self.retry_after}s")


class LLMModelFailed(LLMError):
    """The model itself failed on this request; AWS does not mark it retryable.

    ``vendor_code`` is ``ModelErrorException`` (the model errored while processing) or
    ``ModelTimeoutException`` (processing took longer than the model's timeout).
    """

    code = "llm_model_failed"

    def __init__(self, message: str, *, vendor_code: str) -> None:
        self.vendor_code = vendor_code
        self.timed_out = vendor_code == "ModelTimeoutException"
        super().__init__(message)


class LLMContentBlocked(LLMError):
    """The answer was stopped by a guardrail (``reason="guardrail_intervened"``) or a content filter."""

    code = "llm_content_blocked"

    def __init__(self, *, reason: str) -> None:
        self.reason = reason
        super().__init__(f"answer stopped: {reason}")


class LLMContextTooLong(LLMError):
    """The conversation exceeded the model's context window, even after trimming it once."""

    code = "llm_context_too_long"


class LLMAccessDenied(LLMError):
    """The bot's AWS identity may not invoke ``model_id``."""

    code = "llm_access_denied"

    def __init__(self, *, model_id: str) -> None:
        self.model_id = model_id
        super().__init__(f"access denied to model {model_id}")


class LLMModelNotFound(LLMError):
    """``model_id`` is not a model or inference profile Bedrock knows in this region."""

    code = "llm_model_not_found"

    def __init__(self, *, model_id: str) -> None:
        self.model_id = model_id
        super().__init__(f"model {model_id} not found")


class LLMNoCredentials(LLMError):
    """The standard AWS credential chain found no credentials."""

    code = "llm_no_credentials"


class LLMRequestRejected(LLMError):
    """Bedrock rejected the request as invalid (for example, the conversation is too long for the model)."""

    code = "llm_request_rejected"


class RunbookFailed(TaskError):
    """A runbook step failed or timed out, and the runbook does not let the run go on without it."""

    code = "runbook_failed"

    def __init__(self, step: str, reason: str) -> None:
        self.step = step
        self.reason = reason
        super().__init__(f"step {step} failed: {reason}")


class BudgetExceeded(TaskError):
    """A daily token budget (``ORCH_POLICY_FILE``'s ``budgets``) is used up, so no model call is made.

    ``level`` is ``user``, ``channel`` or ``workspace``; ``budget`` names it for people ("your daily budget");
    ``limit`` and ``used`` are tokens; ``resets_at`` is the wall-clock time it resets (the next UTC midnight).
    ``step`` is the runbook step that was stopped, when a runbook ran into it.
    """

    code = "budget_exceeded"

    def __init__(
        self, *, level: str, budget: str, limit: int, used: int, resets_at: float, step: str | None = None
    ) -> None:
        self.level = level
        self.budget = budget
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        self.step = step
        super().__init__(f"{budget} of {limit:,} tokens is used up ({used:,} used)")

    def at_step(self, step: str) -> BudgetExceeded:
        """The same refusal, as it stopped runbook step ``step``."""
        return BudgetExceeded(
            level=self.level,
            budget=self.budget,
            limit=self.limit,
            used=self.used,
            resets_at=self.resets_at,
            step=step,
        )
