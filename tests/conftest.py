"""The test run is an entry point too: the CLI's and the bot's process defaults (offline model, no telemetry)."""

import signal

from citebot.index import configure_process

configure_process()

# A test run started in the background by a non-interactive shell (`make test &`, a CI step's job) inherits
# SIGINT ignored, and an ignored signal stays ignored across exec: every `citebot` a test starts would then
# ignore the Ctrl-C a test sends it (test_reliability's interrupted re-index waited out its stall instead).
# A handler here is reset to the default in each child, where Python installs its KeyboardInterrupt again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
