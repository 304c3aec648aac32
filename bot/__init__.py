"""citebot's Discord bot: answers questions about the indexed documents with line-exact citations.

Built on ``citebot.index``'s public API only; :func:`citebot.bot.client.create_bot` builds the client
without connecting.
"""

from .client import CitebotBot, create_bot
from .settings import BotSettings, get_bot_settings

__all__ = ["BotSettings", "CitebotBot", "create_bot", "get_bot_settings"]
