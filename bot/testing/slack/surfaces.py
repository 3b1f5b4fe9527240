"""The app's other surfaces: response URLs, the App Home, the agent pane's prompts, people and user groups."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from bot.testing.slack.api import SlackApi, SlackCall, SlackError, json_response, ok
from bot.testing.slack.blocks import MAX_BLOCKS, MAX_VIEW_BLOCKS, block_errors, check_blocks

if TYPE_CHECKING:
    from aiohttp import web

    from bot.testing.slack.api import Handler

__all__ = ["SlackSurfaces"]

MAX_RESPONSE_URL_POSTS = 5


class SlackSurfaces(SlackApi):
    """``response_url`` posts, ``views.publish``, ``assistant.threads.*``, ``users.info``, ``usergroups.users.list``."""

    def _setup(self) -> None:
        super()._setup()
        #: Which agent pane the app has: ``agent_view`` (new apps) or ``assistant_view`` (older installs).
        self.experience = "agent_view"
        #: Suggested prompts a person actually sees, by DM channel (agent_view) or ``channel:thread_ts``.
        self.suggested_prompts: dict[str, list[dict[str, str]]] = {}
        #: The Home tab last published for each user.
        self.home_views: dict[str, dict[str, Any]] = {}
        #: Per-user overrides merged into the ``users.info`` answer.
        self.users: dict[str, dict[str, Any]] = {}
        #: Slack user groups (``S…``) and their members: ``usergroups.users.list`` answers from here.
        self.usergroups: dict[str, list[str]] = {}
        self._response_urls: dict[str, int] = {}

    def _methods(self) -> dict[str, Handler]:
        return {
            **super()._methods(),
            "assistant.threads.setStatus": ok,
            "assistant.threads.setSuggestedPrompts": self._set_suggested_prompts,
            "assistant.threads.setTitle": ok,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_members,
            "views.publish": self._views_publish,
        }

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post("/response/{response_id}", self._handle_response_url)

    def new_response_url(self) -> str:
        """Issue a response_url; posts to it are recorded as ``SlackCall(method="response_url")``."""
        response_id = uuid.uuid4().hex
        self._response_urls[response_id] = 0
        return f"{self.root_url}/response/{response_id}"

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        response_id = request.match_info["response_id"]
        url = f"{self.root_url}/response/{response_id}"
        raw = await request.text()
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        args: dict[str, Any] = dict(decoded) if isinstance(decoded, dict) else {"_raw": raw}
        args["_url"] = url
        call = SlackCall("response_url", args, None)
        self._record(call)
        injected = self._answer_injected(call)
        if injected is not None:
            return injected
        status, body = self._response_url_answer(response_id, valid=decoded is not None, blocks=args.get("blocks"))
        call.response = body
        return json_response(body, status=status)

    def _response_url_answer(self, response_id: str, *, valid: bool, blocks: object) -> tuple[int, dict[str, Any]]:
        posts = self._response_urls.get(response_id)
        if posts is None:
            return 404, {"ok": False, "error": "expired_url"}
        if posts >= MAX_RESPONSE_URL_POSTS:
            return 404, {"ok": False, "error": "used_url"}
        if not valid:
            return 400, {"ok": False, "error": "invalid_payload"}
        if block_errors(blocks, feedback_buttons=self.feedback_buttons):
            return 400, {"ok": False, "error": "invalid_blocks"}
        self._response_urls[response_id] = posts + 1
        return 200, {"ok": True}

    def _set_suggested_prompts(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel_id") or "")
        if not channel:
            raise SlackError("invalid_arguments")
        prompts = args.get("prompts")
        if not isinstance(prompts, list) or not prompts:
            raise SlackError("invalid_arguments")
        thread_ts = args.get("thread_ts")
        if self.experience == "agent_view":
            # Slack's docs: under agent_view a thread_ts makes the call fail silently (ok, nothing shown).
            if not thread_ts:
                self.suggested_prompts[channel] = prompts
        elif thread_ts:
            self.suggested_prompts[f"{channel}:{thread_ts}"] = prompts
        else:
            raise SlackError("invalid_arguments")
        return {"ok": True}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not args.get("user_id") or not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        if view.get("type") != "home":
            raise SlackError("invalid_arguments", ["[ERROR] view type must be home [json-pointer:/view/type]"])
        blocks = view.get("blocks") or []
        if len(blocks) > MAX_VIEW_BLOCKS:
            raise SlackError("invalid_arguments", [f"[ERROR] no more than {MAX_VIEW_BLOCKS} blocks allowed"])
        # Views allow 100 blocks; the per-block limits are the same as messages'.
        check_blocks(blocks[:MAX_BLOCKS])
        self.home_views[str(args["user_id"])] = view
        return {"ok": True, "view": {"id": f"V{len(self.home_views):08d}", **view}}

    def _usergroup_members(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup") or "")
        if not group:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: usergroup"])
        if group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user")
        if not user_id:
            raise SlackError("user_not_found")
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": str(user_id).lower(),
            "real_name": str(user_id),
            "is_admin": False,
            "is_owner": False,
            "is_bot": user_id == self.bot_user_id,
            "deleted": False,
            "tz": "UTC",
            "tz_offset": 0,
            "profile": {"display_name": str(user_id).lower(), "real_name": str(user_id)},
        }
        user.update(self.users.get(str(user_id), {}))
        return {"ok": True, "user": user}
