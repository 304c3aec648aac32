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
    # A second guild (``second_guild=True``), on the other shard than GUILD_ID when there are two
    # (Discord's rule: shard = (guild_id >> 22) % shard_count), with its own channels and admin role.
    SECOND_GUILD_ID = 1100000000004194312
    SECOND_CHANNEL_ID = 1100000000004194313
    SECOND_ADMIN_CHANNEL_ID = 1100000000004194314
    SECOND_ROLE_ID = 1100000000004194315
    ADMIN_CHANNEL_ID = 1100000000000000008  # a third channel of GUILD_ID, e.g. for admin summaries
    # Conversations (issue 11): the bot's managed role in GUILD_ID (Discord creates one per bot, and its
    # autocomplete offers it next to the bot) and a DM channel between a member and the bot.
    BOT_ROLE_ID = 1100000000000000009
    DM_CHANNEL_ID = 1100000000000000010

    def __init__(self, token: str, second_guild: bool = False, recommended_shards: int = 1) -> None:
        self.token = token
        self.guild_ids = [self.GUILD_ID] + ([self.SECOND_GUILD_ID] if second_guild else [])
        self.recommended_shards = recommended_shards  # what GET /gateway/bot answers (AutoShardedBot "auto")
        self.shards_identified: list[tuple[int, int]] = []  # [shard_id, shard_count] of each IDENTIFY
        self._shard_of: dict[web.WebSocketResponse, tuple[int, int]] = {}
        self.calls: list[Call] = []
        self.interactions: dict[int, Interaction] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.channel_posts: list[dict[str, Any]] = []  # messages the bot posted through the channel endpoint
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None = global) -> synced commands
        self.identified = 0
        self.intents = 0  # from the last IDENTIFY
        self.unknown: list[Call] = []
        self.threads: dict[int, dict[str, Any]] = {}  # conversations: thread id -> thread channel
        self.deleted: list[int] = []  # ids of channel messages the bot deleted
        self.reactions: list[tuple[int, str]] = []  # (message id, emoji) the bot reacted with
        self.refuse_threads = False  # answer "Missing Permissions" to starting a thread
        self.files: list[tuple[str, bytes]] = []  # (filename, content) of every file the bot attached, in order
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
        r.add_get(f"{API}/gateway/bot", self._gateway_bot)
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
        # conversations (issue 11): threads, history, fetching, deleting and reacting to messages
        r.add_post(f"{API}/channels/{{channel}}/messages/{{mid}}/threads", self._start_thread)
        r.add_get(f"{API}/channels/{{channel}}/messages", self._history)
        r.add_get(f"{API}/channels/{{channel}}/messages/{{mid}}", self._fetch_message)
        r.add_delete(f"{API}/channels/{{channel}}/messages/{{mid}}", self._delete_message)
        r.add_put(f"{API}/channels/{{channel}}/messages/{{mid}}/reactions/{{emoji}}/@me", self._react)
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

    def guild_of(self, channel_id: int) -> int:
        """The guild a channel of the fake belongs to (GUILD_ID for any channel it does not know)."""
        second = {self.SECOND_CHANNEL_ID, self.SECOND_ADMIN_CHANNEL_ID}
        return self.SECOND_GUILD_ID if channel_id in second and self.SECOND_GUILD_ID in self.guild_ids \
            else self.GUILD_ID

    def _channel(self, channel_id: int, name: str) -> dict[str, Any]:
        return {"id": str(channel_id), "type": 0, "name": name, "position": 0,
                "guild_id": str(self.guild_of(channel_id)),
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}

    def roles_of(self, guild_id: int) -> list[dict[str, Any]]:
        everyone = {"id": str(guild_id), "name": "@everyone", "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
        if guild_id == self.SECOND_GUILD_ID:
            return [everyone, {**everyone, "id": str(self.SECOND_ROLE_ID), "name": "Keepers", "position": 1}]
        bot_role = {**everyone, "id": str(self.BOT_ROLE_ID), "name": "citebot", "position": 2, "managed": True,
                    "tags": {"bot_id": str(self.BOT_ID)}}  # the bot's managed role (conversations, issue 11)
        return [everyone, {**everyone, "id": str(self.LIBRARIAN_ROLE_ID), "name": "Librarian", "position": 1},
                bot_role]

    def _guild(self, guild_id: int | None = None) -> dict[str, Any]:
        if guild_id is not None and guild_id != self.GUILD_ID:
            return {**self._guild(), "id": str(guild_id), "name": "Second server", "roles": self.roles_of(guild_id),
                    "channels": [self._channel(self.SECOND_CHANNEL_ID, "questions"),
                                 self._channel(self.SECOND_ADMIN_CHANNEL_ID, "admins")]}
        return {
            "id": str(self.GUILD_ID), "name": "Test server", "icon": None, "owner_id": str(self.OWNER_ID),
            "roles": self.roles_of(self.GUILD_ID), "emojis": [], "stickers": [], "features": [],
            "unavailable": False,
            "member_count": 3, "large": False, "joined_at": now_iso(), "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "mfa_level": 0, "premium_tier": 0, "system_channel_flags": 0, "nsfw_level": 0,
            "preferred_locale": "en-US", "channels": [self._channel(self.CHANNEL_ID, "general"),
                                                      self._channel(self.ASK_CHANNEL_ID, "ask-here"),
                                                      self._channel(self.ADMIN_CHANNEL_ID, "admins")],
            "threads": [], "members": [self.member(self.bot_user)], "voice_states": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    def _message(self, body: dict[str, Any], channel_id: int, author: dict[str, Any] | None = None,
                 flags: int = 0, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A message as Discord would store and echo it; remembered so buttons on it can be clicked."""
        message_id = self.next_id()
        msg = {
            "id": str(message_id), "channel_id": str(channel_id), "guild_id": str(self.guild_of(channel_id)),
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
                    shard = frame["d"].get("shard") or [0, 1]
                    self.shards_identified.append((int(shard[0]), int(shard[1])))
                    self._shard_of[ws] = (int(shard[0]), int(shard[1]))
                    mine = [g for g in self.guild_ids if self._on_shard(g, ws)]
                    await self._send(ws, "READY", {
                        "v": 10, "user": self.bot_user, "guilds": [{"id": str(g), "unavailable": True} for g in mine],
                        "session_id": f"fake-session-{shard[0]}", "resume_gateway_url": str(self.gateway_url),
                        "application": {"id": str(self.APP_ID), "flags": 0}, "private_channels": [],
                        "relationships": [], "presences": [], "shard": shard,
                    })
                    for guild_id in mine:
                        await self._send(ws, "GUILD_CREATE", self._guild(guild_id))
                elif op == 6:
                    await self._send(ws, "RESUMED", {})
        finally:
            self._sockets.discard(ws)
            self._shard_of.pop(ws, None)
        return ws

    def _on_shard(self, guild_id: int, ws: web.WebSocketResponse) -> bool:
        """Whether ``guild_id``'s events go to the connection ``ws`` (Discord's shard formula)."""
        shard_id, count = self._shard_of.get(ws, (0, 1))
        return (guild_id >> 22) % count == shard_id

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        return json_response({"url": str(self.gateway_url), "shards": self.recommended_shards,
                              "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                                      "max_concurrency": 1}})

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every connected client."""
        if not self._sockets:
            raise AssertionError("no bot is connected to the fake gateway")
        guild = data.get("guild_id") if isinstance(data, dict) else None
        for ws in list(self._sockets):
            if guild is None or self._on_shard(int(guild), ws):  # a guild's events reach only its shard
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
            "guild_id": str(self.guild_of(channel_id)), "channel_id": str(channel_id),
            "channel": self._channel(channel_id, "general"), "member": member, "data": data,
            "locale": "en-US", "guild_locale": "en-US", "app_permissions": str(MEMBER_PERMISSIONS),
            "entitlements": [], "authorizing_integration_owners": {"0": str(self.guild_of(channel_id))}, "context": 0,
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
        """A member runs ``/name`` with options: strings, booleans, integers, or ``channel_option`` /
        ``role_option`` values (resolved as Discord resolves them)."""
        cmd, guild = self.command(name)
        channel = channel_id or self.CHANNEL_ID
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1,
                                "options": [self._option(k, v) for k, v in (options or {}).items()]}
        resolved = self._resolved(data["options"], self.guild_of(channel))
        if resolved:
            data["resolved"] = resolved
        if guild is not None:
            data["guild_id"] = str(guild)
        member = self.member(user or self.user(self.OWNER_ID + 100, "member"), roles, permissions)
        interaction = self._interaction_payload(2, data, member, channel)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    @staticmethod
    def channel_option(channel_id: int) -> dict[str, Any]:
        return {"type": 7, "value": str(channel_id)}

    @staticmethod
    def role_option(role_id: int) -> dict[str, Any]:
        return {"type": 8, "value": str(role_id)}

    @staticmethod
    def _option(name: str, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return {"name": name, **value}
        kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
        return {"name": name, "type": kind, "value": value}

    def _resolved(self, options: list[dict[str, Any]], guild_id: int) -> dict[str, Any]:
        """The ``resolved`` part of an interaction: the channels and roles its options name."""
        resolved: dict[str, dict[str, Any]] = {}
        roles = {r["id"]: r for r in self.roles_of(guild_id)}
        for option in options:
            if option["type"] == 7:
                channel = {**self._channel(int(option["value"]), "channel"), "permissions": str(MEMBER_PERMISSIONS)}
                resolved.setdefault("channels", {})[option["value"]] = channel
            elif option["type"] == 8 and option["value"] in roles:
                resolved.setdefault("roles", {})[option["value"]] = roles[option["value"]]
        return resolved

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

    # ----- conversations (issue 11): threads, replies, role mentions, DMs ---------------------------------------

    async def say(self, content: str, author: dict[str, Any], channel_id: int | None = None,
                  mentions: list[dict[str, Any]] | None = None, mention_roles: list[int] | None = None,
                  reply_to: dict[str, Any] | None = None, dm: bool = False) -> dict[str, Any]:
        """A member writes: like ``post_message``, and also in a thread, mentioning roles, as a reply to
        ``reply_to`` (Discord sends the referenced message along), or in a DM to the bot (``dm``)."""
        channel = self.DM_CHANNEL_ID if dm else channel_id or self.CHANNEL_ID
        extra: dict[str, Any] = {"mentions": mentions or [], "mention_roles": [str(r) for r in mention_roles or []]}
        if not dm:
            member = self.member(author)
            member.pop("user")
            extra["member"] = member
        if reply_to is not None:
            extra["message_reference"] = {"message_id": reply_to["id"], "channel_id": reply_to["channel_id"],
                                          **({"guild_id": reply_to["guild_id"]} if reply_to.get("guild_id") else {})}
            extra["referenced_message"] = reply_to
            extra["type"] = 19
        msg = self._message({"content": content}, channel, author, extra=extra)
        if dm:
            msg.pop("guild_id", None)
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    async def open_thread(self, parent_id: int, owner_id: int, name: str = "a thread") -> dict[str, Any]:
        """A thread in ``parent_id`` started by ``owner_id`` (a member's own thread, say)."""
        thread = self._thread(parent_id, owner_id, name)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    def _thread(self, parent_id: int, owner_id: int, name: str, thread_id: int | None = None) -> dict[str, Any]:
        thread = {**self._channel(thread_id or self.next_id(), name), "type": 11, "parent_id": str(parent_id),
                  "owner_id": str(owner_id), "message_count": 0, "member_count": 1,
                  "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                      "archive_timestamp": now_iso(), "locked": False}}
        thread["guild_id"] = str(self.guild_of(parent_id))
        self.threads[int(thread["id"])] = thread
        return thread

    def thread_of(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The thread the bot started from ``message`` (Discord gives it the message's id), if any."""
        return self.threads.get(int(message["id"]))

    async def _start_thread(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if self.refuse_threads:
            return json_response({"message": "Missing Permissions", "code": 50013}, 403)
        body = call.body or {}
        thread = self._thread(int(request.match_info["channel"]), self.BOT_ID, str(body.get("name") or "thread"),
                              thread_id=int(request.match_info["mid"]))
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread)

    async def _history(self, request: web.Request) -> web.Response:
        await self._record(request)
        channel = request.match_info["channel"]
        limit = int(request.query.get("limit", 50))
        before = int(request.query.get("before", 1 << 63))
        found = sorted((m for mid, m in self.messages.items() if m["channel_id"] == channel and mid < before),
                       key=lambda m: -int(m["id"]))
        return json_response(found[:limit])

    async def _fetch_message(self, request: web.Request) -> web.Response:
        await self._record(request)
        msg = self.messages.get(int(request.match_info["mid"]))
        if msg is None or msg["channel_id"] != request.match_info["channel"]:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        return json_response(msg)

    async def _delete_message(self, request: web.Request) -> web.Response:
        await self._record(request)
        self.deleted.append(int(request.match_info["mid"]))
        self._touch()
        return web.Response(status=204)

    async def _react(self, request: web.Request) -> web.Response:
        await self._record(request)
        self.reactions.append((int(request.match_info["mid"]), request.match_info["emoji"]))
        self._touch()
        return web.Response(status=204)

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
            elif call.path.endswith("/threads"):
                continue  # starting a thread (its name, archive time) is not a message
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
                # Header lines are not empty: the first empty line ends them (a file's own blank lines do not).
                match = re.search(rb'name="payload_json"\r\n(?:[^\r\n]+\r\n)*\r\n(.*?)\r\n--', raw, re.S)
                if match:
                    body = json.loads(match.group(1))
                boundary = request.headers.get("Content-Type", "").partition("boundary=")[2].strip('"').encode()
                for part in raw.split(b"--" + boundary) if boundary else []:  # attached files, whole
                    head, _, data = part.partition(b"\r\n\r\n")
                    named = re.search(rb'name="files\[\d+\]"; filename="([^"]*)"', head)
                    if named:
                        self.files.append((named.group(1).decode(), data.removesuffix(b"\r\n")))
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
