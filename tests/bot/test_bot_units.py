"""Small pieces without Discord: settings, cooldowns, the answer cache, mention stripping, error messages, main(),
the re-index service, and how the client is put together."""

from __future__ import annotations

import ast
import asyncio
import logging
import sys
from pathlib import Path

import pytest
from bot_harness import TOKEN, run
from discord import app_commands
from pydantic import ValidationError

from citebot.bot import client
from citebot.bot.__main__ import main
from citebot.bot.asking import AnswerCache, Cooldowns, Refused, Throttled, strip_mentions
from citebot.bot.exts.admin import NotIndexAdmin, summary_text
from citebot.bot.logs import REDACTED, RedactingFormatter
from citebot.bot.reindexing import STAGES, Reindexer, ReindexRunning
from citebot.bot.replies import UNAVAILABLE, user_message
from citebot.bot.settings import BotSettings, get_bot_settings
from citebot.index import MAX_QUESTION_CHARS, Answer, Engine, IndexMissing, IndexReport, StoreUnavailable, UsageError
from citebot.index.loader import Skipped


def test_settings_from_environment_and_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "CITEBOT_BOT_TOKEN=from-env-file\nCITEBOT_BOT_ADMIN_ROLES=Librarian, Maintainers\nCITEBOT_MODEL=hash\n"
    )
    monkeypatch.setenv("CITEBOT_BOT_ASK_CHANNEL_IDS", "111111111111111111,222222222222222222")
    monkeypatch.setenv("CITEBOT_BOT_DEV_GUILD_ID", "333333333333333333")
    monkeypatch.setenv("CITEBOT_BOT_SOURCE_URL_TEMPLATE", "https://github.com/o/r/blob/main/{path}#L{start}-L{end}")
    s = get_bot_settings()
    assert s.token is not None and s.token.get_secret_value() == "from-env-file"
    assert s.ask_channel_ids == [111111111111111111, 222222222222222222]
    assert s.admin_roles == ["Librarian", "Maintainers"]
    assert s.dev_guild_id == 333333333333333333
    assert "from-env-file" not in repr(s) and "from-env-file" not in str(s.model_dump())
    assert all(f.description for f in BotSettings.model_fields.values()), "every setting is documented"


def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValidationError, match="source_url_template"):
        BotSettings(_env_file=None, source_url_template="https://x.test/{file}")
    with pytest.raises(ValidationError):
        BotSettings(_env_file=None, max_question_chars=MAX_QUESTION_CHARS + 1)
    assert BotSettings(_env_file=None, ask_channel_ids="[1, 2]").ask_channel_ids == [1, 2]


def test_cooldown_is_a_sliding_window_per_member() -> None:
    now = [100.0]
    cd = Cooldowns(rate=2, per=10, clock=lambda: now[0])
    cd.hit(1)
    cd.hit(1)
    cd.hit(2)
    with pytest.raises(Throttled) as refused:
        cd.hit(1)
    assert refused.value.retry_after == pytest.approx(10.0)
    assert "try again in 10 s" in str(refused.value)
    now[0] = 110.01
    cd.hit(1)
    off = Cooldowns(rate=1, per=0)  # a window of 0 s turns the cooldown off: the same member, again and again
    for _ in range(3):
        off.hit(1)


def test_answer_cache_is_bounded_and_keeps_recent_answers() -> None:
    cache = AnswerCache(2)
    keys = [cache.put(Answer(f"q{i}", [])) for i in range(3)]
    assert cache.get(keys[0]) is None
    assert cache.get(keys[2]) is not None and len(keys[2]) == 16


def test_the_reindex_summary_gives_many_files_left_out_for_one_reason_one_line() -> None:
    copies = [Skipped(f"_sources/p{i}.rst.txt", "a copy of a built page's source") for i in range(120)]
    report = IndexReport(added=7, skipped=[Skipped("big.md", "too large"), *copies, Skipped("x`y.js", "minified")])
    lines = summary_text(report, "the docs").split("\n")
    assert lines[1:] == ["• skipped `big.md`: too large",
                         "• skipped 120 files: a copy of a built page's source (`_sources/p0.rst.txt`, "
                         "`_sources/p1.rst.txt`, `_sources/p2.rst.txt` and 117 more)",
                         "• skipped `xˋy.js`: minified"]
    many = IndexReport(skipped=[Skipped(f"f{i}.md", f"reason {i}") for i in range(12)])
    assert summary_text(many, "the docs").split("\n")[-1] == "• … and 2 more skipped (the bot's log lists them)"


def test_strip_mentions_removes_only_the_bot() -> None:
    assert strip_mentions("<@42> what is x?", 42) == "what is x?"
    assert strip_mentions("<@!42>what about <@7>?", 42) == "what about <@7>?"
    assert strip_mentions("<@&9> what about <@&8>?", 42, role_id=9) == "what about <@&8>?"  # the bot's managed role


def test_user_messages_for_expected_errors_and_none_for_bugs() -> None:
    invoke = app_commands.CommandInvokeError.__new__(app_commands.CommandInvokeError)
    invoke.original = StoreUnavailable("cannot reach the Chroma server at 127.0.0.1:1")
    assert user_message(invoke, detailed=True) == "Cannot reach the Chroma server at 127.0.0.1:1"  # an admin
    assert "127.0.0.1" not in (user_message(invoke) or "x") and "an admin has been told" in (user_message(invoke) or "")
    missing = IndexMissing("nothing is indexed at /srv/x yet: run `citebot index DIR` first")
    assert user_message(missing) == "The documents are not indexed yet; an admin has been told."
    assert user_message(UsageError("the index at /srv/x was built with another model")) == UNAVAILABLE
    assert user_message(Refused("The question is empty: ask something")) == "The question is empty: ask something"
    assert user_message(NotIndexAdmin("Only admins.")) == "Only admins."
    assert user_message(RuntimeError("boom")) is None
    assert user_message(app_commands.NoPrivateMessage()) == "This command works only in a server."
    assert user_message(Throttled(4.4)) == "You're asking quickly: try again in 4 s."


def test_main_refuses_without_a_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CITEBOT_BOT_TOKEN", raising=False)
    assert main([]) == 2
    assert "CITEBOT_BOT_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("CITEBOT_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CITEBOT_BOT_COOLDOWN_RATE", "zero")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "cooldown_rate" in err and TOKEN not in err and len(err.strip().splitlines()) == 1


def test_log_lines_never_carry_the_token_even_in_tracebacks() -> None:
    formatter = RedactingFormatter("%(levelname)s %(message)s", [TOKEN])
    try:
        raise RuntimeError(f"request failed with Authorization: Bot {TOKEN}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token was %s", (TOKEN,), sys.exc_info())
    text = formatter.format(record)
    assert TOKEN not in text and text.count(REDACTED) == 2 and "Traceback" in text


def test_reindexer_runs_one_job_at_a_time_and_reports_progress(engine: Engine) -> None:
    async def scenario() -> None:
        reindexer = Reindexer(engine)
        assert not reindexer.running and reindexer.describe() == "idle"
        job = reindexer.claim(7)
        assert reindexer.running and reindexer.describe() == "starting…"
        with pytest.raises(ReindexRunning) as busy:
            reindexer.claim(8)
        assert busy.value.job is job and job.user_id == 7
        (engine.settings.docs_dir / "birds.md").write_text("# Birds\n\nKestrels hover over verges.\n", encoding="utf-8")
        report = await asyncio.wait_for(reindexer.start(job), 30)
        assert report.summary().startswith("1 added, 0 updated, 0 removed, 4 unchanged")
        assert job.progress is not None and job.progress[0] in STAGES, "the worker thread's progress reached the job"
        assert not reindexer.running and reindexer.describe() == "idle"
        with pytest.raises(RuntimeError):
            reindexer.start(job)  # a job runs once
        unsent = reindexer.claim(9)
        reindexer.release(unsent)  # e.g. the /reindex reply could not be sent: nothing ran, nothing holds the slot
        assert not reindexer.running and reindexer.claim(10).user_id == 10

    run(scenario())


def test_client_imports_no_extension_module() -> None:
    """Extensions are loaded by name and register their own pieces; the client importing one would load it
    outside ``load_extension`` and close an import circle (exts -> client for the bot type)."""
    tree = ast.parse(Path(client.__file__).read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert imported and not [name for name in imported if "exts" in name.split(".")], imported
    assert all(name.startswith("citebot.bot.exts.") for name in client.EXTENSIONS)
