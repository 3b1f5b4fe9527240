"""The Slack Web API client orch uses: slack_sdk's, counting every API error in the metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

if TYPE_CHECKING:
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from agents.metrics import Metrics

__all__ = ["MeteredWebClient", "slack_error"]


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code for a failed call (``channel_not_found``…); ``http_<status>`` or ``unknown`` without one.

    The SDK puts a raw HTTP response (or a response whose data is text) in ``exc.response`` when the
    body was not Slack's JSON, such as a proxy's 502 page: that must degrade an answer, never crash it.
    """
    response = exc.response
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown")
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return f"http_{status}" if isinstance(status, int) else "unknown"


class MeteredWebClient(AsyncWebClient):
    """An AsyncWebClient that counts ``ok: false`` answers by method and error."""

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        """Call ``api_method``; count the failure if Slack says no."""
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self._metrics.slack_errors.labels(api_method, slack_error(exc)).inc()
            raise
