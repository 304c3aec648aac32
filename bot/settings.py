"""The bot's own settings, read from the environment (prefix ``CITEBOT_BOT_``) and ``.env``.

Index settings (documents folder, database, model) stay in ``index.Settings`` (prefix ``CITEBOT_``);
both read the same ``.env``. Every field carries a description because docs/bot.md lists them.
"""

from __future__ import annotations

from typing import Annotated

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

    _split = field_validator("ask_channel_ids", "admin_roles", mode="before")(split_csv)

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


def get_bot_settings() -> BotSettings:
    """Read the settings now (environment, then ``.env``); tests build ``BotSettings(...)`` directly."""
    return BotSettings()
