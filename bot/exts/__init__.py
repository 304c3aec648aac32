"""The bot's features, one cog each: ``ask`` (questions), ``admin`` (/reindex), ``info`` (/status, /help)."""
