"""The bot's own settings, read from the environment (prefix ``CITEBOT_BOT_``) and ``.env``.

Index settings (documents folder, database, model) stay in ``index.Settings`` (prefix ``CITEBOT_``);
both read the same ``.env``. Every field carries a description because docs/bot.md lists them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from citebot.index import MAX_QUESTION_CHARS, split_csv

URL_FIELDS = {"path": "docs/a.md", "start": 1, "end": 2, "line": 1}


class BotSettings(BaseSettings):
    """How the bot talks to Discord: who may re-index, where it answers, how much it says."""

    model_config = SettingsConfigDict(env_prefix="CITEBOT_BOT_", env_file=".env", extra="ignore")

    token: SecretStr | None = Field(
        None, description="The bot token from the Discord developer portal (Bot tab). Secret: never logged."
    )
    dev_guild_id: int | None = Field(
        None,
        description="Server (guild) id to sync slash commands to instantly while developing; "
        "empty syncs them globally (Discord may take a while to show global commands).",
    )
    ask_channel_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Channel ids (comma-separated) where every message is taken as a question, no mention needed.",
    )
    admin_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Role names or ids (comma-separated) allowed to /reindex besides members with Manage Server.",
    )
    message_content_intent: bool = Field(
        True,
        description="Ask Discord for the privileged Message Content intent (enable it in the developer portal); "
        "needed for ask-channels, not for mentions or slash commands.",
    )
    cooldown_rate: int = Field(3, ge=1, description="Questions one member may ask per cooldown window.")
    cooldown_seconds: float = Field(
        30.0, ge=0, description="Length of the per-member cooldown window in seconds; 0 turns the cooldown off."
    )
    max_sources: int = Field(3, ge=1, le=10, description="Most sources cited under one answer.")
    source_url_template: str | None = Field(
        None,
        description="Turns citations into links, e.g. https://github.com/OWNER/REPO/blob/main/{path}#L{start}-L{end} "
        "(placeholders: {path}, {start}, {end}, {line}); empty cites plain path:Lstart-Lend.",
    )
    max_question_chars: int = Field(
        MAX_QUESTION_CHARS, ge=1, le=MAX_QUESTION_CHARS, description="Longest question accepted, in characters."
    )
    ask_concurrency: int = Field(
        4, ge=1, le=32, description="Questions searched at the same time (in worker threads); the rest queue."
    )
    answer_cache_size: int = Field(
        2000, ge=1, description="Recent answers kept in memory so their Show passage button works."
    )
    reindex_progress_seconds: float = Field(
        3.0, gt=0, description="How often /reindex edits its reply with progress (Discord rate-limits edits)."
    )
    sync_commands: bool = Field(True, description="Sync slash commands with Discord at start-up.")
    warm_up: bool = Field(
        True, description="Load the embedding model and open the index before going online, not on the first question."
    )
    freeze_gc: bool = Field(
        True,
        description="After start-up, exclude long-lived objects from garbage collection (gc.freeze) so that "
        "collector passes over the loaded libraries and model never pause the bot.",
    )
    log_level: str = Field("INFO", description="Logging level for stderr: DEBUG, INFO, WARNING or ERROR.")

    # --- conversations (issue 11): follow-ups, ask-channel etiquette, private refusals, DMs -------------------------
    thread_mode: bool = Field(
        False, description="Answer a question asked in a channel in a new thread started from it, where follow-ups "
        "need no mention; the default for servers that did not choose with /config.",
    )
    notice_seconds: float = Field(
        12.0, ge=0, description="A refusal, throttling or error notice sent as a reply to a message deletes itself "
        "after this many seconds (slash commands answer those privately instead); 0 reacts with an emoji instead.",
    )
    dm_policy: Literal["answer", "redirect", "ignore"] = Field(
        "redirect", description="Direct messages: answer them like mentions, redirect (one sentence saying where to "
        "ask), or ignore them.",
    )
    followup_history: int = Field(
        20, ge=1, le=100, description="Messages of a thread read back to find the conversation a follow-up "
        "continues (the bot keeps no conversation in memory, so follow-ups survive restarts).",
    )
    # 0.1 measured on the 60 Textual dev questions (shared/eval/docs_dev_textual.jsonl, bundled model; the median
    # gap between the best and the 2nd/3rd source is 0.077): it moves 33 of 97 second and third sources that do not
    # hold a gold line to "See also", and 3 of 13 that do (0.15: 16 and 1; 0.05: 67 and 5).
    see_also_margin: float = Field(
        0.1, ge=0, le=1, description="Sources whose score is more than this below the best one's are listed "
        "smaller, under 'See also'.",
    )
    nearest_sections: int = Field(
        3, ge=0, le=5, description="In ask-channels, section titles offered when nothing answers a question; 0 "
        "offers none (the reply is then one line).",
    )

    # --- guilds (issue 11): document sets, engines, sharding, re-indexing without an admin -----------------------
    document_sets: Annotated[dict[str, Path | None], NoDecode] = Field(
        default_factory=dict,
        description="Document sets a server admin may choose with /config, as name=folder pairs (comma-separated, "
        "e.g. handbook=/srv/docs/handbook,api=/srv/docs/api); a name without =folder is indexed from the command "
        "line only. Each set has its own index; servers that chose none read the default one (CITEBOT_DOCS_DIR).",
    )
    max_engines: int = Field(
        8, ge=1, description="Document sets kept open at once (the default one included); the least recently "
        "asked is closed when another is needed, and opened again on its next question.",
    )
    shards: int | Literal["auto"] | None = Field(
        None,
        description="Run as discord.py's AutoShardedBot: a shard count, or auto for the count Discord recommends. "
        "Empty runs one unsharded connection (Discord requires sharding from 2,500 servers).",
    )
    reindex_every_minutes: float = Field(
        0.0, ge=0, description="Re-index every document set that has a folder this often, in minutes; 0 turns it off.",
    )
    watch_documents: bool = Field(
        False, description="Re-index a document set's folder shortly after its files change (watchfiles).",
    )
    watch_quiet_seconds: float = Field(
        5.0, gt=0, description="With watch_documents: how long the folder must stay unchanged before re-indexing, "
        "so that a burst of saves (a git pull) makes one re-index.",
    )

    # --- feedback (issue 11): 👍 / 👎 / "Still need help?" under answers, the gaps report, privacy ---------------
    db_path: Path | None = Field(
        None, description="The bot's SQLite database (feedback, the gaps report, per-server settings). Default: "
        "bot.sqlite3 beside the index's state folder (inside CITEBOT_DB_PATH in embedded mode). Set it when the "
        "index is on read-only media.",
    )
    store_questions: bool = Field(
        False, description="Store the text of questions with their answers, so that /gaps and citebot gaps can "
        "group them by question. Off (the default): only who asked (their id), the cited lines, votes and whether "
        "the bot answered are stored.",
    )
    helper_role_id: int | None = Field(
        None, description="Role pinged when a member presses 'Still need help?' under an answer (only then, and "
        "only that role); empty hides the button. A server can choose its own with /config.",
    )

    _split = field_validator("ask_channel_ids", "admin_roles", mode="before")(split_csv)

    @field_validator("document_sets", mode="before")
    @classmethod
    def _parse_sets(cls, value: object) -> object:
        return parse_document_sets(value)

    @field_validator("shards", mode="before")
    @classmethod
    def _parse_shards(cls, value: object) -> object:
        """An empty value (or 0) means unsharded; ``auto`` asks Discord for its recommended count."""
        if value in ("", 0, "0", None):
            return None
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str | int) and str(value).strip().lstrip("-").isdigit() and int(value) < 0:
            raise ValueError("shards must be a number of shards (1 or more), auto, or empty")
        return value

    @field_validator("source_url_template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        """Fail at start-up, not on the first answer, when the template names an unknown placeholder."""
        if not value:
            return None
        try:
            value.format(**URL_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"source_url_template may use only {{path}}, {{start}}, {{end}} and {{line}} ({exc!r})"
            ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


# A document set's name, as an admin types it in /config and as it ends citebot's Chroma collection name
# ("citebot-NAME"): lower-case letters, digits, - and _, at most 32, so the collection name stays well inside
# Chroma's limit and a name never needs quoting. "default" names the index of the CITEBOT_* settings.
SET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
DEFAULT_SET = "default"


def parse_document_sets(value: object) -> object:
    """``name=folder,name2`` (or a JSON object) into {name: folder or None}; one-line errors for bad names."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            value = json.loads(text)
        else:
            pairs: dict[str, str | None] = {}
            for part in (p.strip() for p in text.split(",")):
                if part:
                    name, _, folder = part.partition("=")
                    pairs[name.strip()] = folder.strip() or None
            value = pairs
    if isinstance(value, dict):
        for name in value:
            if not isinstance(name, str) or not SET_NAME.fullmatch(name) or name == DEFAULT_SET:
                raise ValueError(
                    f"document set name {name!r}: use 1-32 lower-case letters, digits, - or _ (not {DEFAULT_SET!r})"
                )
    return value


def get_bot_settings() -> BotSettings:
    """Read the settings now (environment, then ``.env``); tests build ``BotSettings(...)`` directly."""
    return BotSettings()
