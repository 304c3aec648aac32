"""Process-wide environment for citebot's entry points (the CLI, the bot, the benchmark, the scripts).

Library code never sets environment variables: importing ``citebot.index`` or loading a model must not
change a host application's process. An entry point calls ``configure_process()`` once, first thing.
"""

from __future__ import annotations

import os

# Defaults only: a variable the user set wins.
PROCESS_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",  # the bundled model is on disk; nothing may be downloaded at run time
    "ANONYMIZED_TELEMETRY": "False",  # Chroma's telemetry (clients also get anonymized_telemetry=False)
    "TOKENIZERS_PARALLELISM": "false",  # the fast tokenizer's own threads fight torch's on 2 cores
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def configure_process() -> None:
    """Set citebot's environment defaults for this process (idempotent)."""
    for key, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(key, value)
