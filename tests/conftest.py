"""The test run is an entry point too: the CLI's and the bot's process defaults (offline model, no telemetry)."""

import atexit
import os
import shutil
import signal
import tempfile

from citebot.index import configure_process

configure_process()

# The models exported for onnxruntime are cached in one folder for the whole run (the CLI subprocesses tests
# start inherit it), never in the user's own cache; the first test that loads a model pays for the export.
if "CITEBOT_CACHE_DIR" not in os.environ:
    os.environ["CITEBOT_CACHE_DIR"] = tempfile.mkdtemp(prefix="citebot-test-cache-")
    atexit.register(shutil.rmtree, os.environ["CITEBOT_CACHE_DIR"], True)

# A test run started in the background by a non-interactive shell (`make test &`, a CI step's job) inherits
# SIGINT ignored, and an ignored signal stays ignored across exec: every `citebot` a test starts would then
# ignore the Ctrl-C a test sends it (test_reliability's interrupted re-index waited out its stall instead).
# A handler here is reset to the default in each child, where Python installs its KeyboardInterrupt again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
