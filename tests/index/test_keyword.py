"""The keyword index: BM25 over chunk terms, the word weights line scoring uses, and its files."""

from __future__ import annotations

import math
from pathlib import Path

from citebot.index.keyword import KeywordIndex
from citebot.index.textproc import terms

TEXTS = {
    "tomato": "Tomatoes need six hours of sunlight and deep watering twice a week.",
    "compost": "A compost heap turns kitchen scraps into dark soil within three months.",
    "bees": "Lavender near the gate draws bees, and the bees pollinate the beans.",
    "water": "Water the beans at dawn; water the tomatoes at dusk.",
}


def _index() -> KeywordIndex:
    return KeywordIndex.build(list(TEXTS), list(TEXTS.values()))


def test_search_ranks_the_chunks_holding_the_words_and_drops_the_rest() -> None:
    index = _index()
    hits = index.search(terms("compost scraps"), 10)
    assert [cid for cid, _ in hits] == ["compost"]  # no other chunk holds either word: a zero score is no hit
    assert hits[0][1] > 0
    ranked = [cid for cid, _ in index.search(terms("bees beans"), 10)]
    assert ranked[0] == "bees"  # both words, "bees" twice
    assert set(ranked) == {"bees", "water"}


def test_search_returns_at_most_k_best_first() -> None:
    hits = _index().search(terms("water beans tomatoes bees"), 2)
    assert len(hits) == 2
    assert hits[0][1] >= hits[1][1]


def test_search_with_no_words_finds_nothing() -> None:
    assert _index().search([], 5) == []
    assert _index().search(terms("the and of"), 5) == []  # stop words only


def test_term_idf_weighs_rare_words_more_and_unseen_words_as_the_rarest() -> None:
    index = _index()
    water, bee, compost = (terms(w)[0] for w in ("water", "bees", "compost"))
    assert index.term_idf(compost) == index.term_idf(bee)  # each in one chunk
    assert index.term_idf(compost) > index.term_idf(terms("beans")[0])  # in two chunks
    unseen = index.term_idf("zyzzyva")
    assert unseen > max(index.idf.values())
    assert math.isclose(unseen, math.log(1 + (len(TEXTS) + 0.5) / 0.5))
    assert water in index.idf


def test_an_empty_index_searches_to_nothing_and_still_weighs_words(tmp_path: Path) -> None:
    empty = KeywordIndex.build([], [])
    assert empty.retriever is None
    assert empty.search(terms("anything at all"), 5) == []
    assert empty.term_idf("anything") > 0
    empty.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.ids == [] and loaded.retriever is None and loaded.idf == {}
    assert loaded.search(terms("anything"), 5) == []


def test_a_chunk_without_words_is_indexed_and_never_found() -> None:
    index = KeywordIndex.build(["blank", "bees"], ["--- ... ---", TEXTS["bees"]])
    assert [cid for cid, _ in index.search(terms("bees"), 5)] == ["bees"]
    assert "" not in index.idf


def test_save_then_load_gives_the_same_index(tmp_path: Path) -> None:
    index = _index()
    term_lists = [terms(t) for t in TEXTS.values()]
    folder = tmp_path / "gen-1" / "keyword"
    folder.parent.mkdir()
    index.save(folder, term_lists)
    assert not folder.with_name("keyword.tmp").exists()  # written aside, then renamed into place
    assert (folder / "terms.json").exists()
    loaded = KeywordIndex.load(folder)
    assert loaded.ids == index.ids
    assert loaded.idf == index.idf
    for question in ("compost scraps", "bees beans", "water tomatoes at dusk"):
        assert loaded.search(terms(question), 4) == index.search(terms(question), 4)
    assert loaded.term_idf("zyzzyva") == index.term_idf("zyzzyva")


def test_saving_again_replaces_the_previous_files(tmp_path: Path) -> None:
    folder = tmp_path / "keyword"
    _index().save(folder, [terms(t) for t in TEXTS.values()])
    KeywordIndex.build(["only"], ["Sourdough needs a starter."]).save(folder)
    loaded = KeywordIndex.load(folder)
    assert loaded.ids == ["only"]
    assert not (folder / "terms.json").exists()
    assert [cid for cid, _ in loaded.search(terms("sourdough"), 3)] == ["only"]


def test_extends_and_near_find_longer_forms_and_misspellings() -> None:
    index = KeywordIndex.build(["a", "b"], ["runs on macOS and Linux", "the principle of separation"])
    assert index.extends("mac") and not index.extends("maco") and not index.extends("avro")
    assert index.extends("lin", 2) and not index.extends("li", 2)  # "linux": a tail of two letters, of three
    assert index.near("pricipl")  # "priciple": one letter from "principl"
    assert index.near("seper") and not index.near("avro")


def test_camel_case_names_are_found_by_their_words_and_by_name() -> None:
    assert terms("client.on('messageCreate')") == ["client", "messagecr", "messag", "creat"]
    assert terms("BaseModel and NASA") == ["basemodel", "nasa"], "class names and acronyms stay whole"
    index = KeywordIndex.build(["event", "other"], ["Listen for `messageCreate` on the client.",
                                                    "Messages sent by webhooks are created elsewhere."])
    assert index.search(terms("event when a message is create"), 2)[0][0] == "event"
    (best, top), (_, second) = index.search(terms("messageCreate"), 2)
    assert best == "event" and top > 2 * second, "the exact name outweighs its words elsewhere"
