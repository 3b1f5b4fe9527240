"""Reading files people shared in the conversation, for tools (the core's ``FileSource`` port).

Slack serves a file's bytes only to requests carrying the bot token; without the ``files:read`` scope it
answers a login page, which is detected rather than handed to the model as "the log". The token is sent
only to Slack's own file hosts (or the configured API host, for GovSlack and tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError

from agents.errors import ToolFailed
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["SlackFiles"]

_SOURCE = "Slack files"
_SLACK_HOST_SUFFIXES = (".slack.com", ".slack-gov.com", ".slack-edge.com")


class SlackFiles:
    """Downloads shared files with the bot token."""

    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession, *, token: str, api_url: str) -> None:
        self._client = client
        self._session = session
        self._token = token
        self._api_host = urlsplit(api_url).hostname or ""

    async def read(self, file_id: str, *, max_bytes: int) -> tuple[str, bytes]:
        """``(name, first max_bytes bytes)`` of file ``file_id``; raises :class:`ToolFailed` with the reason."""
        try:
            response = await self._client.files_info(file=file_id)
        except SlackApiError as exc:
            error = slack_error(exc)
            hint = " (the app needs the files:read scope)" if error == "missing_scope" else ""
            raise ToolFailed(source=_SOURCE, reason=f"Slack answered {error}{hint}") from exc
        file = response.get("file") or {}
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        if not self._trusted(url):
            raise ToolFailed(source=_SOURCE, reason="the file is not hosted by Slack, so the bot will not fetch it")
        try:
            async with self._session.get(url, headers={"Authorization": f"Bearer {self._token}"}) as reply:
                if reply.status != 200:  # noqa: PLR2004 - HTTP OK
                    raise ToolFailed(source=_SOURCE, reason=f"download failed with HTTP {reply.status}")
                if reply.content_type == "text/html" and file.get("mimetype") != "text/html":
                    raise ToolFailed(
                        source=_SOURCE,
                        reason="Slack returned a login page instead of the file: the app needs the files:read scope",
                    )
                chunks: list[bytes] = []
                received = 0
                async for chunk in reply.content.iter_chunked(64 * 1024):
                    chunks.append(chunk)
                    received += len(chunk)
                    if received >= max_bytes:
                        break
                data = b"".join(chunks)[:max_bytes]
        except aiohttp.ClientError as exc:
            raise ToolFailed(source=_SOURCE, reason=f"download failed ({type(exc).__name__})", retryable=True) from exc
        return str(file.get("name") or file_id), data

    def _trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == self._api_host:
            return parts.scheme in {"https", "http"}
        return parts.scheme == "https" and host.endswith(_SLACK_HOST_SUFFIXES)
