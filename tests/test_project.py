"""Project-level promises: the documented set-up stays true."""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting_as_generated(monkeypatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts the repository first on it
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # the script as run from the command line, without a process of its own
        runpy.run_path(str(ROOT / "scripts" / "gen_env_example.py"), run_name="__main__")
    generated = out.getvalue()
    assert "CITEBOT_DB_PATH" in generated
    assert (ROOT / ".env.example").read_text() == generated, "run: python scripts/gen_env_example.py > .env.example"


def test_every_setting_has_a_description() -> None:
    from citebot.bot.settings import BotSettings
    from citebot.index.settings import Settings

    for cls in (Settings, BotSettings):
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"


def test_list_settings_accept_comma_separated_env(monkeypatch) -> None:
    from citebot.index.settings import Settings

    monkeypatch.setenv("CITEBOT_EXTENSIONS", ".md, .txt")
    monkeypatch.setenv("CITEBOT_EXCLUDE", '["drafts/*"]')
    s = Settings(_env_file=None)
    assert s.extensions == [".md", ".txt"]
    assert s.exclude == ["drafts/*"]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```sh\n(.+?)\n```", readme, flags=re.S)
    assert commands[:2] == ["make demo", "make test"], "the README's two set-up commands come first"
    assert re.search(r"^make test$", ci, flags=re.M)


def test_secrets_and_databases_are_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored and ".citebot/" in ignored
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()
