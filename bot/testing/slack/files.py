"""Files: people sharing them (downloads need the bot token), and the bot uploading through ``files_upload_v2``.

``files_upload_v2`` is three steps (``files.getUploadURLExternal``, a POST of the bytes to the URL it
gave, ``files.completeUploadExternal``); a file shared by a person downloads from ``url_private_download``
only with ``Authorization: Bearer <bot token>``, and otherwise answers Slack's HTML login page, as Slack does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from bot.testing.slack.api import SlackCall, SlackError
from bot.testing.slack.messages import SlackMessages

if TYPE_CHECKING:
    from bot.testing.slack.api import Handler

__all__ = ["SlackFiles"]


class SlackFiles(SlackMessages):
    """Shared files, their downloads, and the upload methods."""

    def _setup(self) -> None:
        super()._setup()
        #: Raw bytes posted to each upload URL, by file id.
        self.uploaded_files: dict[str, bytes] = {}
        #: File objects (as ``files.info`` returns them), by file id.
        self.files: dict[str, dict[str, Any]] = {}
        self._file_content: dict[str, bytes] = {}
        self._file_seq = 0

    def _methods(self) -> dict[str, Handler]:
        return {
            **super()._methods(),
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
        }

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._handle_download)

    def share_file(
        self,
        channel: str,
        name: str,
        content: bytes,
        *,
        user: str = "U0ANA",
        text: str = "",
        thread_ts: str | None = None,
        mimetype: str = "text/plain",
    ) -> dict[str, Any]:
        """A person shares a file in ``channel`` (optionally in a thread); returns the message carrying it.

        The file downloads from ``url_private_download`` only with ``Authorization: Bearer <bot token>``;
        without it the fake answers Slack's HTML login page, as Slack does.
        """
        file_id = f"F{len(self.files) + len(self.uploaded_files) + 1:08d}"
        file = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "text",
            "size": len(content),
            "user": user,
            "url_private": f"{self.root_url}/files-pri/{file_id}/{name}",
            "url_private_download": f"{self.root_url}/files-pri/{file_id}/{name}",
        }
        self.files[file_id] = file
        self._file_content[file_id] = content
        message = self.seed_message(channel, text, user=user, thread_ts=thread_ts)
        message["files"] = [file]
        return message

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or None
        self._record(SlackCall(method="file_download", args={"file": file_id}, token=token))
        if token != self.bot_token:
            login = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"
            return web.Response(text=login, content_type="text/html")
        content = self._file_content.get(file_id)
        if content is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=content, content_type=self.files[file_id]["mimetype"])

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        if request.content_type == "multipart/form-data":
            data = b""
            reader = await request.multipart()
            part = await reader.next()
            if isinstance(part, BodyPartReader):
                data = bytes(await part.read())
        else:
            data = await request.read()
        self.uploaded_files[file_id] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        if not filename:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: filename"])
        try:
            length = int(args.get("length") or "")
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: length"]) from None
        self._file_seq += 1
        file_id = f"F0FAKE{self._file_seq:05d}"
        self.files[file_id] = {
            "id": file_id,
            "name": str(filename),
            "title": str(filename),
            "size": length,
            "user": self.bot_user_id,
            "created": int(time.time()),
            "channels": [],
        }
        return {"ok": True, "upload_url": f"{self.root_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise SlackError("invalid_arguments", ["[ERROR] files must be a non-empty JSON array"])
        if any(i.get("id") not in self.uploaded_files for i in items):
            raise SlackError("file_not_found")
        channels = [str(args["channel_id"])] if args.get("channel_id") else []
        channels += [c for c in str(args.get("channels") or "").split(",") if c]
        for channel in channels:
            self._require_member(channel)
        shared = []
        for item in items:
            file = self.files[item["id"]]
            file["title"] = item.get("title") or file["name"]
            file["channels"] = [*file["channels"], *channels]
            shared.append(file)
        for channel in channels:
            message = self._bot_message(self._next_ts(), str(args.get("initial_comment") or ""))
            message["files"] = [dict(f) for f in shared]
            message["upload"] = True
            self._store_message(channel, message, args.get("thread_ts") or None)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(str(args.get("file") or ""))
        if file is None:
            raise SlackError("file_not_found")
        return {"ok": True, "file": file}
