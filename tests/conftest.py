"""The test run is an entry point too: the CLI's and the bot's process defaults (offline model, no telemetry)."""

from citebot.index import configure_process

configure_process()
