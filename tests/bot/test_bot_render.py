"""bot.render on its own: answers and passages as embeds, escaped, and always inside Discord's limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot_harness import check_payload
from hypothesis import given, settings
from hypothesis import strategies as st

from citebot.bot.render import (
    LIMITS,
    NO_MENTIONS,
    PATH_CHARS,
    TENTATIVE_COLOUR,
    answer_embed,
    citation,
    escape,
    full_path,
    not_found_line,
    numbered_block,
    passage_embeds,
    quoted_span,
    short_path,
    status_embed,
    trim,
)
from citebot.index import TENTATIVE_NOTE, Answer, Hit, Stats


def hit(source: str = "docs/guide.md", start: int = 10, end: int = 14, line: int = 12, text: str | None = None,
        line_text: str = "The answer is on this line.") -> Hit:
    body = text if text is not None else "\n".join(
        line_text if n == line else f"context line {n}" for n in range(start, end + 1)
    )
    lines = [(start + i, t) for i, t in enumerate(body.split("\n"))]
    return Hit(source, start, end, line, 0.8, body, line_text, lines)


def payload(embeds: list[Any], content: str = "") -> dict[str, Any]:
    return {"content": content, "embeds": [e.to_dict() for e in embeds], "allowed_mentions": NO_MENTIONS.to_dict()}


def test_answer_quotes_the_line_and_cites_each_source() -> None:
    answer = Answer("Where is the answer?", [hit(), hit("notes/b.txt", 3, 3, 3, line_text="Also here.")])
    embed = answer_embed(answer, max_sources=3)
    assert embed.title == "Where is the answer?"
    assert embed.description == "> The answer is on this line.\n— `docs/guide.md:12`"
    value = embed.fields[0].value or ""
    assert value.splitlines() == ["**1.** `docs/guide.md:L10-L14` · line 12", "**2.** `notes/b.txt:3` · line 3"]
    check_payload(payload([embed]))


def test_a_tentative_answer_says_first_that_the_documents_may_not_answer() -> None:
    plain = answer_embed(Answer("Where is the answer?", [hit()], 0.9), max_sources=3)
    tentative = answer_embed(Answer("Where is the answer?", [hit()], 0.6, tentative=True), max_sources=3)
    assert tentative.description == f"*{TENTATIVE_NOTE}*\n" + (plain.description or "")
    assert tentative.colour == TENTATIVE_COLOUR != plain.colour
    assert tentative.fields[0].value == plain.fields[0].value, "the same sources, cited the same way"
    check_payload(payload([tentative]))


def test_max_sources_limits_the_citations() -> None:
    answer = Answer("q", [hit(f"f{i}.md") for i in range(5)])
    assert len((answer_embed(answer, max_sources=2).fields[0].value or "").splitlines()) == 2


def test_citations_are_links_with_a_template_and_paths_are_url_quoted() -> None:
    template = "https://example.test/blob/main/{path}#L{start}-L{end}"
    h = hit("my docs/ünïcode (1).md", 4, 9, 5)
    assert citation(h, template) == (
        "[`my docs/ünïcode (1).md:L4-L9`](https://example.test/blob/main/my%20docs/%C3%BCn%C3%AFcode%20%281%29.md#L4-L9)"
    )
    assert citation(h, None) == "`my docs/ünïcode (1).md:L4-L9`"
    assert citation(hit("a.md", 7, 7, 7), "https://x.test/{path}#L{line}") == "[`a.md:7`](https://x.test/a.md#L7)"


def test_document_text_cannot_ping_or_format() -> None:
    nasty = "@everyone @here <@123456789012345678> <@&223456789012345678> **bold** _it_ `code` ||spoil|| # head"
    embed = answer_embed(Answer("@everyone **why**?", [hit(line_text=nasty)]))
    desc = embed.description or ""
    assert "@everyone" not in desc and "@\u200beveryone" in desc and "@\u200bhere" in desc
    assert "<@123456789012345678>" not in desc and "<@\u200b123456789012345678>" in desc
    assert "\\*\\*bold\\*\\*" in desc and "\\_it\\_" in desc and "\\`code\\`" in desc and "\\|\\|spoil" in desc
    assert "@everyone" not in (embed.title or "") and "\\*\\*why\\*\\*" in (embed.title or "")
    assert escape("plain words") == "plain words"


def test_backticks_in_a_passage_cannot_close_its_code_block() -> None:
    h = hit(text="before\n```\n@everyone escaped the block?\nafter", start=1, end=4, line=3,
            line_text="@everyone escaped the block?")
    block = numbered_block(h, 4000)
    assert block.startswith("```\n") and block.endswith("\n```")
    assert block.count("```") == 2, "only the block's own fences"
    assert "3 ▶ @everyone escaped the block?" in block


def test_over_long_text_is_trimmed_to_every_limit() -> None:
    giant_line = "word " * 20_000 + "*_`" * 5000  # ~115 KB
    long_path = "/".join(["a-very-long-folder-name-" * 4] * 30) + "/file.md"  # ~3 KB
    hits = [hit(long_path + str(i), 1, 400, 200, text="\n".join([giant_line[:3000]] * 400), line_text=giant_line)
            for i in range(10)]
    answer = Answer("why " * 250, hits)
    template = "https://example.test/" + "x" * 400 + "/{path}#L{start}-L{end}"
    embed = answer_embed(answer, max_sources=10, url_template=template)
    assert len(embed.title or "") <= LIMITS.title and (embed.title or "").endswith("…")
    assert len(embed.description or "") <= LIMITS.description and "…" in (embed.description or "")
    assert len(embed) <= LIMITS.embed
    passages = passage_embeds(hits, template)
    assert 1 <= len(passages) < len(hits)
    assert "not shown" in (passages[-1].footer.text or "")
    check_payload(payload([embed]))
    check_payload(payload(passages))
    for p in passages:
        assert "▶" in (p.description or ""), "the answering line stays visible when the passage is cut"


def test_passage_footers_count_toward_the_message_total() -> None:
    """Long titles, full passages and "also appears at" footers: the footers and the "not shown" note must fit
    within the 6,000 characters too (they once overflowed it by up to ~110, so Discord refused the reply)."""
    first = 1_000_000  # seven-digit line numbers make the longest footers
    rows = [(first + k, "x " * 60) for k in range(400)]
    hits = [Hit("p" * 200 + str(i), first, first + 399, first + 200, 0.5, "\n".join(t for _, t in rows), "x " * 60,
                rows, list(range(first, first + 20))) for i in range(3)]
    passages = passage_embeds(hits)
    assert 1 <= len(passages) < len(hits) and "not shown" in (passages[-1].footer.text or "")
    assert all("also appears" in (p.footer.text or "") for p in passages)
    check_payload(payload(passages))


def test_a_long_passage_keeps_a_window_around_the_answering_line() -> None:
    text = "\n".join(f"line number {n} " + "x" * 60 for n in range(1, 301))
    h = hit("long.md", 1, 300, 150, text=text, line_text=f"line number 150 {'x' * 60}")
    block = numbered_block(h, 1500)
    assert len(block) <= 1500
    assert "150 ▶ line number 150" in block
    assert block.startswith("```\n⋮\n") and block.endswith("\n⋮\n```")


def test_an_excerpt_of_a_code_block_too_long_to_cite_says_it_goes_on() -> None:
    """A passage showing part of a long code block (search.Hit.partial_blocks) gets the ⋮ rows where the block
    goes on, though the window holds the whole passage; a whole passage gets none."""
    whole = numbered_block(hit(), 4000)
    assert "⋮" not in whole
    below = numbered_block(replace(hit(), partial_blocks=((12, 40),)), 4000)
    assert below.startswith("```\n10 ") and below.endswith("\n⋮\n```")
    around = numbered_block(replace(hit(), partial_blocks=((3, 40),)), 4000)
    assert around.startswith("```\n⋮\n10 ") and around.endswith("\n⋮\n```")


def test_trim_cuts_at_a_word_and_marks_it() -> None:
    assert trim("short", 10) == "short"
    assert trim("alpha beta gamma delta", 12) == "alpha beta…"
    assert len(trim("x" * 50, 10)) == 10
    assert trim("x" * 50, 1) == "x"


def test_status_when_nothing_is_indexed() -> None:
    embed = status_embed(Stats(0, 0, "hash-256", None, 0, "", "db"), reindex_running=False)
    assert "Nothing is indexed yet" in (embed.description or "")
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Last indexed"] == "never" and fields["Files"] == "0"


printable = st.text(st.characters(codec="utf-8"), max_size=3000)  # any encodable character


@settings(max_examples=60, deadline=None)
@given(
    question=st.text(max_size=1000),
    lines=st.lists(printable, min_size=1, max_size=8),
    source=st.text(min_size=1, max_size=600),
    n=st.integers(1, 10),
    also_at=st.lists(st.integers(1, 10**9), max_size=30),
)
def test_any_answer_fits_discord(question: str, lines: list[str], source: str, n: int, also_at: list[int]) -> None:
    text = "\n".join(x.replace("\n", " ") for x in lines)
    hits = [Hit(f"{source}{i}", 1, len(lines), 1, 0.5, text, lines[0].replace("\n", " "),
                [(k + 1, t) for k, t in enumerate(text.split("\n"))], also_at) for i in range(n)]
    answer = Answer(question or "?", hits)
    check_payload(payload([answer_embed(answer, max_sources=n, url_template="https://e.test/{path}#L{line}")]))
    check_payload(payload(passage_embeds(hits, None)))


def test_weak_sources_are_listed_apart_under_see_also() -> None:
    strong, close, weak = (Hit(f"{n}.md", 1, 3, 2, score, "a\nb\nc", "b", [(1, "a"), (2, "b"), (3, "c")])
                           for n, score in (("strong", 0.9), ("close", 0.85), ("weak", 0.5)))
    embed = answer_embed(Answer("q", [strong, close, weak]), max_sources=3, see_also_margin=0.15)
    fields = {f.name: f.value or "" for f in embed.fields}
    assert "strong.md" in fields["Sources"] and "close.md" in fields["Sources"] and "weak.md" not in fields["Sources"]
    assert fields["See also"] == "3. `weak.md:L1-L3` · line 2", "numbered on, without bold"
    assert [f.name for f in answer_embed(Answer("q", [strong, weak])).fields] == ["Sources"], "no margin: one list"


def test_a_wrapped_sentence_is_quoted_whole_and_other_lines_are_not_joined() -> None:
    lines = [(4, "Water roses deeply once a week rather"), (5, "than a little every day, and never"),
             (6, "in the midday sun."), (7, "- a list item"), (8, "Prune in winter.")]
    text = "\n".join(t for _, t in lines)
    wrapped = Hit("roses.md", 4, 8, 5, 0.9, text, lines[1][1], lines)
    assert quoted_span(wrapped) == (4, 6, "Water roses deeply once a week rather than a little every day, and never "
                                          "in the midday sun.")
    embed = answer_embed(Answer("how often?", [wrapped]))
    assert (embed.description or "").endswith("— `roses.md:L4-L6`")
    whole = Hit("roses.md", 4, 8, 8, 0.9, text, "Prune in winter.", lines)
    assert quoted_span(whole) == (8, 8, "Prune in winter."), "a list item above is not part of the sentence"


def test_a_table_row_is_quoted_alone() -> None:
    """Table rows read as their cells ("`.dict()` | `.model_dump()`", no outer pipes): a row is not the rest
    of a sentence the row above left unfinished, though it may start with a backtick."""
    lines = [(10, "Pydantic V1 | Pydantic V2"), (12, "`.dict()` | `.model_dump()`"),
             (13, "`.json()` | `.model_dump_json()`")]
    text = "\n".join(t for _, t in lines)
    row = Hit("migration.md", 10, 13, 12, 0.9, text, lines[1][1], lines)
    assert quoted_span(row) == (12, 12, "`.dict()` | `.model_dump()`")


def test_status_shows_the_server_folder_only_to_admins_and_not_found_is_one_line() -> None:
    stats = Stats(3, 9, "hash-256", 1.0, 2, "/srv/secret/docs", "db")
    assert "/srv/secret" not in str(status_embed(stats, reindex_running=False).to_dict())
    assert "/srv/secret" in str(status_embed(stats, reindex_running=False, show_folder=True).to_dict())
    line = not_found_line(["Roses", "Brewing *tea*", "x" * 500])
    assert line.startswith("I found nothing") and "**Roses**" in line and "\\*tea\\*" in line and "\n" not in line
    assert len(line) < 400 and not_found_line([]) == "I found nothing in the documents that answers this."


def test_a_shortened_path_is_found_again_among_the_indexed_files() -> None:
    deep = "guides/" + "very-long-section-name/" * 6 + "setting-up-the-bot.md"
    twin = "guides/" + "very-long-section-name/" * 6 + "other-page.md"
    shown = short_path(deep)
    assert len(deep) > PATH_CHARS and "…" in shown
    assert full_path(shown, [twin, deep, "README.md"]) == deep
    assert full_path(shown, [twin]) is None  # the file is gone: no guessing
    deeper = "guides/" + "very-long-section-name/" * 7 + "setting-up-the-bot.md"  # same start, same end
    assert full_path(shown, [deep, deeper]) is None  # two files fit: no guessing either
    assert full_path("README.md", []) == "README.md"  # not shortened: kept as shown
    assert full_path("notes…draft.md", ["notes…draft.md"]) == "notes…draft.md"  # an ellipsis of its own


def test_a_conversation_s_shortened_sources_are_read_as_the_indexed_files() -> None:
    from citebot.bot.conversation import with_full_paths
    from citebot.index.followup import Turn

    deep = "guides/" + "very-long-section-name/" * 6 + "setting-up-the-bot.md"
    calls: list[int] = []

    def indexed() -> list[str]:
        calls.append(1)
        return ["README.md", deep]

    turns = [Turn("and on Windows?"), Turn("how do I set it up?", (short_path(deep), "README.md"))]
    assert with_full_paths(turns, indexed) == [turns[0], Turn("how do I set it up?", (deep, "README.md"))]
    plain = [Turn("how do I set it up?", ("README.md",))]
    assert with_full_paths(plain, indexed) == plain and len(calls) == 1  # nothing shortened: no lookup
