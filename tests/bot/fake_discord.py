"""A small fake Discord on 127.0.0.1: the REST endpoints citebot's bot calls and a JSON gateway websocket.

The real discord.py client is pointed at it (``pointed_at``), so tests exercise the bot exactly as Discord
would drive it: login, command sync, gateway events, interaction callbacks, follow-ups and edits. Everything
the bot sends is recorded; tests wait on the record with ``until``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import discord
import yarl
from aiohttp import WSMsgType, web

API = "/api/v10"
EPHEMERAL = 64
MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 31)  # view channel, send messages, use application commands

# Interaction callback types (Discord's InteractionResponseType)
MESSAGE = 4
DEFERRED_MESSAGE = 5


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())


def json_response(payload: Any, status: int = 200) -> web.Response:
    """discord.py parses a body as JSON only when Content-Type is exactly ``application/json``."""
    return web.Response(body=json.dumps(payload).encode(), status=status, headers={"Content-Type": "application/json"})


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    body: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class Interaction:
    """An interaction the fake sent, and everything the bot answered to it."""

    id: int
    token: str
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # bodies of POST .../callback
    followups: list[dict[str, Any]] = field(default_factory=list)  # bodies of POST /webhooks/app/token
    edits: list[dict[str, Any]] = field(default_factory=list)  # bodies of PATCH .../messages/@original
    deleted_original: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # messages created (callback 4 and follow-ups)

    @property
    def replies(self) -> list[dict[str, Any]]:
        """What the member sees as answers: a message callback, then follow-ups (a defer is not a reply)."""
        return [c["data"] for c in self.callbacks if c.get("type") == MESSAGE] + self.followups

    @property
    def deferred(self) -> bool:
        return any(c.get("type") == DEFERRED_MESSAGE for c in self.callbacks)


class FakeDiscord:
    """One guild with two text channels, a handful of members, and the bot; see ``start``/``stop``."""

    APP_ID = 1100000000000000001
    BOT_ID = 1100000000000000002
    GUILD_ID = 1100000000000000003
    CHANNEL_ID = 1100000000000000004
    ASK_CHANNEL_ID = 1100000000000000005
    OWNER_ID = 1100000000000000006
    LIBRARIAN_ROLE_ID = 1100000000000000007

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.interactions: dict[int, Interaction] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.channel_posts: list[dict[str, Any]] = []  # messages the bot posted through the channel endpoint
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None = global) -> synced commands
        self.identified = 0
        self.intents = 0  # from the last IDENTIFY
        self.unknown: list[Call] = []
        self._ids = itertools.count(1200000000000000000)
        self._seq = itertools.count(1)
        self._sockets: set[web.WebSocketResponse] = set()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_get("/gateway", self._gateway)
        r.add_get(f"{API}/users/@me", self._me)
        r.add_get(f"{API}/oauth2/applications/@me", self._application)
        r.add_put(f"{API}/applications/{{app}}/commands", self._sync)
        r.add_put(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self._sync)
        r.add_post(f"{API}/channels/{{channel}}/messages", self._channel_message)
        r.add_post(f"{API}/channels/{{channel}}/typing", self._typing)
        r.add_post(f"{API}/interactions/{{iid}}/{{token}}/callback", self._callback)
        r.add_post(f"{API}/webhooks/{{app}}/{{token}}", self._followup)
        r.add_patch(f"{API}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._edit)
        r.add_delete(f"{API}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._delete)
        r.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> yarl.URL:
        return yarl.URL(f"ws://127.0.0.1:{self.port}/gateway")

    # ----- waiting ---------------------------------------------------------------------------------------------

    def _touch(self) -> None:
        self._changed.set()

    async def until(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        """Wait (bounded) until ``predicate()`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    # ----- payload builders ------------------------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    @staticmethod
    def user(user_id: int, name: str, bot: bool = False) -> dict[str, Any]:
        return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
                "bot": bot, "public_flags": 0}

    @property
    def bot_user(self) -> dict[str, Any]:
        return self.user(self.BOT_ID, "citebot", bot=True)

    def member(self, user: dict[str, Any], roles: list[int] | None = None, permissions: int = MEMBER_PERMISSIONS
               ) -> dict[str, Any]:
        return {"user": user, "roles": [str(r) for r in roles or []], "joined_at": now_iso(), "deaf": False,
                "mute": False, "flags": 0, "nick": None, "avatar": None, "pending": False,
                "permissions": str(permissions)}

    def _channel(self, channel_id: int, name: str) -> dict[str, Any]:
        return {"id": str(channel_id), "type": 0, "name": name, "position": 0, "guild_id": str(self.GUILD_ID),
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}

    def _guild(self) -> dict[str, Any]:
        everyone = {"id": str(self.GUILD_ID), "name": "@everyone", "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
        librarian = {**everyone, "id": str(self.LIBRARIAN_ROLE_ID), "name": "Librarian", "position": 1}
        return {
            "id": str(self.GUILD_ID), "name": "Test server", "icon": None, "owner_id": str(self.OWNER_ID),
            "roles": [everyone, librarian], "emojis": [], "stickers": [], "features": [], "unavailable": False,
            "member_count": 3, "large": False, "joined_at": now_iso(), "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "mfa_level": 0, "premium_tier": 0, "system_channel_flags": 0, "nsfw_level": 0,
            "preferred_locale": "en-US", "channels": [self._channel(self.CHANNEL_ID, "general"),
                                                      self._channel(self.ASK_CHANNEL_ID, "ask-here")],
            "threads": [], "members": [self.member(self.bot_user)], "voice_states": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    def _message(self, body: dict[str, Any], channel_id: int, author: dict[str, Any] | None = None,
                 flags: int = 0, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A message as Discord would store and echo it; remembered so buttons on it can be clicked."""
        message_id = self.next_id()
        msg = {
            "id": str(message_id), "channel_id": str(channel_id), "guild_id": str(self.GUILD_ID),
            "author": author or self.bot_user, "content": body.get("content") or "", "timestamp": now_iso(),
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": body.get("embeds") or [], "components": body.get("components") or [],
            "pinned": False, "type": 19 if body.get("message_reference") else 0,
            "flags": flags | int(body.get("flags") or 0), "allowed_mentions": body.get("allowed_mentions"),
        }
        if body.get("message_reference"):
            msg["message_reference"] = body["message_reference"]
        msg.update(extra or {})
        self.messages[message_id] = msg
        return msg

    # ----- gateway ---------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:
                    if frame["d"].get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    self.identified += 1
                    self.intents = int(frame["d"].get("intents", 0))
                    await self._send(ws, "READY", {
                        "v": 10, "user": self.bot_user, "guilds": [{"id": str(self.GUILD_ID), "unavailable": True}],
                        "session_id": "fake-session", "resume_gateway_url": str(self.gateway_url),
                        "application": {"id": str(self.APP_ID), "flags": 0}, "private_channels": [],
                        "relationships": [], "presences": [],
                    })
                    await self._send(ws, "GUILD_CREATE", self._guild())
                elif op == 6:
                    await self._send(ws, "RESUMED", {})
        finally:
            self._sockets.discard(ws)
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every connected client."""
        if not self._sockets:
            raise AssertionError("no bot is connected to the fake gateway")
        for ws in list(self._sockets):
            await self._send(ws, event, data)

    # ----- things members do -----------------------------------------------------------------------------------

    async def post_message(self, content: str, author: dict[str, Any], channel_id: int | None = None,
                           mentions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A member writes in a channel; list mentioned users in ``mentions`` as Discord does."""
        channel = channel_id or self.CHANNEL_ID
        member = self.member(author)
        member.pop("user")  # MESSAGE_CREATE carries the member without its user (that is ``author``)
        extra = {"mentions": mentions or [], "member": member}
        msg = self._message({"content": content}, channel, author, extra=extra)
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    def _interaction_payload(self, itype: int, data: dict[str, Any], member: dict[str, Any], channel_id: int,
                             message: dict[str, Any] | None = None) -> Interaction:
        iid = self.next_id()
        token = f"itoken-{iid}"
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(self.APP_ID), "type": itype, "token": token, "version": 1,
            "guild_id": str(self.GUILD_ID), "channel_id": str(channel_id),
            "channel": self._channel(channel_id, "general"), "member": member, "data": data,
            "locale": "en-US", "guild_locale": "en-US", "app_permissions": str(MEMBER_PERMISSIONS),
            "entitlements": [], "authorizing_integration_owners": {"0": str(self.GUILD_ID)}, "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        interaction = Interaction(iid, token, payload)
        self.interactions[iid] = interaction
        return interaction

    def command(self, name: str) -> tuple[dict[str, Any], int | None]:
        """A synced command by name, and the guild it was synced to (None: global), as Discord resolves it."""
        for guild in (self.GUILD_ID, None):
            for cmd in self.commands.get(guild, []):
                if cmd["name"] == name:
                    return cmd, guild
        raise AssertionError(f"/{name} was never synced; synced: {self.commands}")

    async def slash(self, name: str, options: dict[str, Any] | None = None, user: dict[str, Any] | None = None,
                    roles: list[int] | None = None, permissions: int = MEMBER_PERMISSIONS,
                    channel_id: int | None = None) -> Interaction:
        """A member runs ``/name`` with string options."""
        cmd, guild = self.command(name)
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1,
                                "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]}
        if guild is not None:
            data["guild_id"] = str(guild)
        member = self.member(user or self.user(self.OWNER_ID + 100, "member"), roles, permissions)
        interaction = self._interaction_payload(2, data, member, channel_id or self.CHANNEL_ID)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def click(self, message: dict[str, Any], user: dict[str, Any] | None = None,
                    label: str = "Show passage") -> Interaction:
        """A member presses the button labelled ``label`` on ``message``."""
        buttons = [c for row in message["components"] for c in row.get("components", [])]
        custom_id = next(c["custom_id"] for c in buttons if c.get("label") == label)
        member = self.member(user or self.user(self.OWNER_ID + 101, "clicker"))
        data = {"custom_id": custom_id, "component_type": 2}
        interaction = self._interaction_payload(3, data, member, int(message["channel_id"]), message)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    def replies_in(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages the bot posted in a channel through the channel endpoint (replies to messages)."""
        return [m for m in self.channel_posts if m["channel_id"] == str(channel_id)]

    def sent_payloads(self) -> list[dict[str, Any]]:
        """Every message body the bot sent (channel messages, callbacks with data, follow-ups, edits)."""
        out: list[dict[str, Any]] = []
        for call in self.calls:
            if not isinstance(call.body, dict):
                continue
            if call.path.endswith("/callback"):
                if call.body.get("data"):
                    out.append(call.body["data"])
            elif call.method in {"POST", "PATCH"} and ("/messages" in call.path or "/webhooks/" in call.path):
                out.append(call.body)
        return out

    # ----- REST ------------------------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Call:
        raw = await request.read()
        body: Any = None
        if raw:
            if request.content_type.startswith("multipart/"):
                body = {"multipart": True}
                match = re.search(rb'name="payload_json"\r\n(?:[^\r\n]*\r\n)*\r\n(.*?)\r\n--', raw, re.S)
                if match:
                    body = json.loads(match.group(1))
            else:
                body = json.loads(raw)
        call = Call(request.method, request.path, body)
        self.calls.append(call)
        self._touch()
        return call

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _me(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        return json_response(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        return json_response({
            "id": str(self.APP_ID), "name": "citebot", "description": "", "icon": None, "bot_public": False,
            "bot_require_code_grant": False, "owner": self.user(self.OWNER_ID, "owner"), "verify_key": "00",
            "flags": 0, "team": None, "summary": "",
        })

    async def _sync(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if not self._authorized(request):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        guild = int(request.match_info["guild"]) if "guild" in request.match_info else None
        synced = []
        for cmd in call.body or []:
            entry = {"id": str(self.next_id()), "application_id": str(self.APP_ID), "version": "1",
                     "default_member_permissions": None, "type": 1, "options": [], **cmd}
            if guild is not None:
                entry["guild_id"] = str(guild)
            synced.append(entry)
        self.commands[guild] = synced
        return json_response(synced)

    async def _channel_message(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if not self._authorized(request):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        msg = self._message(call.body or {}, int(request.match_info["channel"]))
        self.channel_posts.append(msg)
        return json_response(msg)

    async def _typing(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=204)

    def _find(self, token: str) -> Interaction:
        iid = int(token.removeprefix("itoken-"))
        return self.interactions[iid]

    async def _callback(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        interaction = self._find(request.match_info["token"])
        body = call.body or {}
        if interaction.callbacks:
            return json_response({"message": "Interaction has already been acknowledged.", "code": 40060}, 400)
        interaction.callbacks.append(body)
        data = body.get("data") or {}
        kind = body.get("type")
        flags = int(data.get("flags") or 0)
        msg = self._message(data, int(interaction.payload["channel_id"]), flags=flags,
                            extra={"interaction_token": interaction.token,
                                   "flags": flags | (128 if kind == DEFERRED_MESSAGE else 0)})
        if kind == MESSAGE:
            interaction.messages.append(msg)
        self._touch()
        return json_response({
            "interaction": {"id": str(interaction.id), "type": interaction.payload["type"],
                            "response_message_id": msg["id"], "response_message_loading": kind == DEFERRED_MESSAGE,
                            "response_message_ephemeral": bool(flags & EPHEMERAL)},
            "resource": {"type": kind, "message": msg},
        })

    async def _followup(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        interaction = self._find(request.match_info["token"])
        if not interaction.callbacks:
            return json_response({"message": "Unknown Webhook", "code": 10015}, 404)
        interaction.followups.append(call.body or {})
        msg = self._message(call.body or {}, int(interaction.payload["channel_id"]),
                            extra={"interaction_token": interaction.token, "webhook_id": str(self.APP_ID)})
        interaction.messages.append(msg)
        self._touch()
        return json_response(msg)

    async def _edit(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        interaction = self._find(request.match_info["token"])
        interaction.edits.append(call.body or {})
        channel = int(interaction.payload["channel_id"])
        base = interaction.messages[0] if interaction.messages else self._message({}, channel)
        base = {**base, **{k: v for k, v in (call.body or {}).items() if k in {"content", "embeds", "components"}},
                "edited_timestamp": now_iso()}
        self._touch()
        return json_response(base)

    async def _delete(self, request: web.Request) -> web.Response:
        await self._record(request)
        self._find(request.match_info["token"]).deleted_original = True
        self._touch()
        return web.Response(status=204)

    async def _unknown(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        self.unknown.append(call)
        return json_response({"message": "404: Not Found", "code": 0}, 404)


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and gateway at the fake for the duration; restore afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = fake.gateway_url
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
