"""Follow-up questions: when the earlier turns of a conversation should shape retrieval, and how.

A follow-up such as "what about black tea?" or "where does it live?" means nothing on its own; searched
alone it is answered from whatever file shares its few words. A self-contained follow-up ("how do I prune
roses?") must not be polluted by the earlier question. So: decide whether the follow-up leans on the
conversation (``is_elliptical``), build a retrieval query from it and the earlier question(s)
(``contextual_query``), search both ways, and keep the contextual answer only when it is not weaker than the
bare one (``choose``). ``answer_followup`` does all of it around any ``ask`` function (``Engine.ask``).

Pure functions over strings and ``Answer``s: the bot reads the turns from Discord (a thread's history, or the
answer a member replied to), so a conversation survives restarts and nothing is held in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .search import Answer
from .textproc import STOPWORDS, words

# Words that point back at something said before. Pronouns are stop words too, which is why they are
# listed here: a question made only of them and one or two content words names nothing by itself.
REFERRING = frozenset(
    """it its itself this that these those they them their theirs one ones other others another same former
    latter there then such else instead too either neither both""".split()
)
# How a follow-up that only changes one thing about the previous question starts.
OPENERS = ("what about", "how about", "and ", "and?", "but ", "or ", "what if", "same for", "same with",
           "also ", "then ", "why not", "what else", "anything else", "which one", "the other")
# A follow-up with at most this many content words is elliptical ("why?", "how long?", "black tea?").
# Chosen by hand on the conversations in scripts/measure_followups.py: two content words ("black tea") name a
# subject but not what is asked about it; three ("prune roses winter") usually stand alone.
SHORT_CONTENT_WORDS = 2
# A question that refers back (it, that, the other one) and has at most this many content words of its own
# leans on the conversation: "where does it live?" (1), "how do I roll it back?" (2). Longer questions with a
# pronoun ("what does it mean when the deploy script fails on a missing tag?") carry their own subject.
REFERRING_CONTENT_WORDS = 3
# Earlier questions folded into the retrieval query at most: the last one, and the one before when the last
# was itself elliptical ("and green tea?" after "and black?" after "how long is oolong steeped?").
MAX_CONTEXT_TURNS = 3
# The contextual answer is dropped for the bare one when the bare one's relevance beats it by more than this
# (relevance: the answerability probability, 0..1, see Settings.min_relevance). Chosen by hand: 0.05 is about
# the gap between the best and the second passage of a clear answer, so a bare answer clearly ahead wins.
BARE_MARGIN = 0.05


@dataclass(frozen=True)
class Turn:
    """One earlier question of the conversation and what its answer cited (paths, most relevant first)."""

    question: str
    sources: tuple[str, ...] = ()


def content_words(text: str) -> list[str]:
    """Lower-cased words that name something: neither stop words nor words that refer back."""
    return [w for w in words(text) if w not in STOPWORDS and w not in REFERRING]


def is_elliptical(question: str) -> bool:
    """Whether ``question`` leans on the conversation: it opens like a follow-up ("what about ..."), refers
    back with few words of its own ("where does it live?"), or is very short ("how long?")."""
    text = " ".join(question.lower().split())
    if text.startswith(OPENERS):
        return True
    own = content_words(text)
    if len(own) <= SHORT_CONTENT_WORDS:
        return True
    refers = any(w in REFERRING for w in words(text))
    return refers and len(own) <= REFERRING_CONTENT_WORDS


def context_turns(turns: Sequence[Turn]) -> list[Turn]:
    """The earlier turns that give the context, most recent first: back to the first self-contained one."""
    picked: list[Turn] = []
    for turn in turns[:MAX_CONTEXT_TURNS]:
        picked.append(turn)
        if not is_elliptical(turn.question):
            break
    return picked


def contextual_query(question: str, turns: Sequence[Turn]) -> str:
    """The follow-up first (what is asked now), then the earlier question(s) it leans on, oldest last.

    The follow-up leads so that what it names ("black tea") weighs at least as much as what it replaces in the
    earlier question ("green tea"); the earlier question supplies what is asked about it ("how long steeped").
    Measured against adding only the earlier question's subject and its source's file name (the words its
    answer line lacks): on the 20 conversations of scripts/measure_followups.py the whole question found the
    right passage for 14, the subject words for 13, and the right file for 20 against 16.
    """
    earlier = [t.question for t in context_turns(turns)]
    return " ".join([question, *earlier]) if earlier else question


def choose(bare: Answer | None, contextual: Answer, earlier: Turn | None = None) -> Answer:
    """The contextual answer unless the contextual one found nothing, the bare one is clearly stronger, or the
    bare one already answers from the file the earlier answer cited first.

    That last rule is how the cited passages shape the choice: a bare answer from the conversation's own file
    is on topic and follows the follow-up's own words, while the contextual query's earlier question pulls
    towards the passage that answered the earlier question ("and less verbose?" after "how do I make it more
    verbose?"). On the 20 conversations of scripts/measure_followups.py it raised the right passages from 14 to 16.
    """
    if bare is None or bare.abstained:
        return contextual
    if contextual.abstained or bare.relevance > contextual.relevance + BARE_MARGIN:
        return bare
    if earlier is not None and earlier.sources and bare.hits[0].source == earlier.sources[0]:
        return bare
    return contextual


@dataclass(frozen=True)
class FollowUp:
    """The answer to a follow-up, and the earlier question it was read with (None: read on its own)."""

    answer: Answer
    read_with: str | None = None


def answer_followup(ask: Callable[[str], Answer], question: str, turns: Sequence[Turn]) -> FollowUp:
    """Answer ``question`` given the conversation's earlier ``turns`` (most recent first).

    A self-contained question is searched alone, and with its context only when alone finds nothing. An
    elliptical one is searched both ways and ``choose`` keeps the better; two searches cost two query
    embeddings (a few milliseconds each with the bundled model). The answer carries the member's own question.
    """
    if not turns:
        return FollowUp(ask(question))
    query = contextual_query(question, turns)
    if not is_elliptical(question):
        bare = ask(question)
        if not bare.abstained or query == question:
            return FollowUp(bare)
        contextual = ask(query)
        return _labelled(contextual, question, turns) if not contextual.abstained else FollowUp(bare)
    bare = ask(question)
    picked = choose(bare, ask(query), turns[0])
    return FollowUp(picked) if picked is bare else _labelled(picked, question, turns)


def _labelled(answer: Answer, question: str, turns: Sequence[Turn]) -> FollowUp:
    earliest = context_turns(turns)[-1].question
    return FollowUp(dataclasses.replace(answer, question=question), earliest)
