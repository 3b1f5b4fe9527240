"""Socket Mode: ``apps.connections.open``, the WebSocket with its ``hello``, envelopes sent and their acks.

Tests send envelopes (``events_api``, ``slash_commands``, ``interactive``) on the newest socket with
:meth:`SlackSocketMode.socket_send` and wait for the client's ack with :meth:`SlackSocketMode.socket_ack`;
:meth:`SlackSocketMode.disconnect_sockets` drops every connection, as Slack does now and then.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.testing.slack.api import APP_ID, SlackApi

if TYPE_CHECKING:
    from bot.testing.slack.api import Handler

__all__ = ["SlackSocketMode"]

_SOCKET_CLOSE_TIMEOUT = 2.0


class SlackSocketMode(SlackApi):
    """Socket Mode connections, envelopes and acks."""

    def _setup(self) -> None:
        super()._setup()
        #: Every Socket Mode ack received (``{"envelope_id": ..., "payload"?: ...}``), in order.
        self.socket_acks: list[dict[str, Any]] = []
        self.socket_connections_opened = 0
        self._socket_seq = 0
        self._socket_ids: set[int] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ack_by_id: dict[str, dict[str, Any]] = {}

    def _methods(self) -> dict[str, Handler]:
        return {**super()._methods(), "apps.connections.open": self._apps_connections_open}

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get("/socket/{n}", self._handle_socket)
        app.on_shutdown.append(self._close_sockets_on_shutdown)

    async def _close_connections(self) -> None:
        await super()._close_connections()
        await self.disconnect_sockets()

    async def _close_sockets_on_shutdown(self, _app: web.Application) -> None:
        await self.disconnect_sockets()

    def _apps_connections_open(self, _args: dict[str, Any]) -> dict[str, Any]:
        self._socket_seq += 1
        self._socket_ids.add(self._socket_seq)
        return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/socket/{self._socket_seq}"}

    async def wait_socket_connected(self, timeout: float = 10.0) -> None:
        """Wait until a Socket Mode client is connected and has been sent ``hello``.

        Raises:
            AssertionError: on timeout.
        """
        try:
            await asyncio.wait_for(self._socket_connected.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no Socket Mode connection within {timeout}s "
                f"(apps.connections.open called {len(self.calls_to('apps.connections.open'))} time(s))"
            ) from None

    async def socket_send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool = False,
    ) -> str:
        """Send an envelope (``events_api``, ``slash_commands``, ``interactive``) on the newest socket.

        Returns:
            The envelope id, to pass to :meth:`socket_ack`.

        Raises:
            AssertionError: if no socket is open.
        """
        sockets = [ws for ws in self._sockets if not ws.closed]
        if not sockets:
            raise AssertionError("no open Socket Mode connection; await wait_socket_connected() first")
        envelope_id = str(uuid.uuid4())
        self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        await sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def socket_ack(self, envelope_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the client's ack of ``envelope_id`` and return it (``{"envelope_id", "payload"?}``).

        Raises:
            AssertionError: on timeout.
        """
        ack = self._ack_by_id.get(envelope_id)
        if ack is not None:
            return ack
        future = self._acks.get(envelope_id)
        if future is None or future.done():
            future = self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            acked = [a.get("envelope_id") for a in self.socket_acks]
            raise AssertionError(f"envelope {envelope_id} not acked within {timeout}s; acked: {acked}") from None
        finally:
            self._acks.pop(envelope_id, None)

    async def disconnect_sockets(self) -> None:
        """Close every Socket Mode connection (clients reconnect via a new ``apps.connections.open``)."""
        self._socket_connected.clear()
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake disconnect")

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        n = request.match_info["n"]
        if self._stopping:
            return web.Response(status=503, text="shutting down", content_type="text/plain")
        if not n.isdigit() or int(n) not in self._socket_ids:
            return web.Response(status=404, text="unknown socket url", content_type="text/plain")
        ws = web.WebSocketResponse(autoping=True, timeout=_SOCKET_CLOSE_TIMEOUT)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.socket_connections_opened += 1
        try:
            hello = {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
            await ws.send_str(json.dumps(hello))
            self._socket_connected.set()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_socket_text(message.data)
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_connected.clear()
        return ws

    def _on_socket_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        envelope_id = str(message["envelope_id"])
        self.socket_acks.append(message)
        self._ack_by_id[envelope_id] = message
        future = self._acks.pop(envelope_id, None)
        if future is not None and not future.done():
            future.set_result(message)
