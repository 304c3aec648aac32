"""Which messages are questions for the bot: small talk, thanks and chatter get no reply.

In an ask-channel every message reaches the bot, but most are not questions to it ("thanks!", "lol",
"hello everyone 👋"). A message is answered there only when it looks like a question: a question mark, a
question word first, an imperative such as "explain" or "how to", or a help-seeking statement ("I get error X
when ..."). Where the member addressed the bot (a mention, a reply to its answer, a DM, its own thread) only
small talk is skipped. Pure functions over text: exts/ask.py decides who was addressed.
"""

from __future__ import annotations

import re
import unicodedata

QUESTION_WORDS = frozenset(
    """how what why when where which who whom whose is are am was were can could do does did should would will
    shall may might must has have had any anyone anybody isn aren doesn didn won wouldn shouldn couldn""".split()
)
# Imperatives that ask the bot for something ("explain the deploy", "show me the config").
IMPERATIVES = frozenset(
    """explain show tell describe list give help find define compare summarize summarise clarify walk
    point recommend suggest""".split()
)
# Words and phrases of someone stuck: "I get error X when ...", "the deploy fails", "can't connect".
HELP_SEEKING = re.compile(
    r"\b(error|errors|exception|traceback|fails?|failed|failing|failure|crash(es|ed|ing)?|broken|"
    r"(doesn'?t|does not|won'?t|will not|isn'?t|not) work(s|ing)?|can'?t|cannot|unable|stuck|"
    r"problem|issue|wrong|trying to|i want to|i need|i'?d like to|no idea|wondering|how to|"
    r"freezes?|hangs?|blows? up|misbehaves?|stops? working|never (reaches|works|shows)|is there a way)\b",
    re.IGNORECASE,
)
# Whole messages that are chatter, once punctuation and emoji are gone.
SMALL_TALK = re.compile(
    r"(thanks?( you| so much| a lot| again)?|thx|ty|tysm|cheers|thank u|much appreciated|appreciated|"
    r"hi|hello|hey|heya|hiya|yo|sup|gm|gn|good (morning|evening|night|afternoon)|bye|cya|see you|"
    r"lol|lmao|rofl|haha+|hehe+|xd|ok(ay)?|k|kk|cool|nice|great|awesome|perfect|got it|makes sense|"
    r"yes|yeah|yep|no|nope|nah|sure|np|no problem|welcome|you'?re welcome|same|\+1|this|wow|oh|ah|hm+|"
    r"good bot|bad bot|gg)( (everyone|all|guys|folks|team|bot|citebot|mate|man))*",
    re.IGNORECASE,
)
# Small talk may trail a few words ("thanks, that worked") but is never long. Chosen by hand: past this many
# words a message that opens with "thanks" usually carries a new question or statement.
SMALL_TALK_WORDS = 6
_TRAILING = re.compile(r"^(thanks?|thx|ty|cheers|ok(ay)?|cool|nice|great|awesome|perfect|lol|haha+)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased words (apostrophes kept inside: "doesn't"); emoji, punctuation and markup dropped."""
    return [w.lower() for w in _WORD.findall(text)]


def only_symbols(text: str) -> bool:
    """Emoji, punctuation, custom emoji (``<:name:id>``), emoji codes (``:+1:``) and white space only: a reaction
    written as a message."""
    text = re.sub(r"<a?:\w+:\d+>|:[\w+-]+:", "", text)
    return not any(unicodedata.category(ch)[0] in "LN" for ch in text)


def is_small_talk(text: str) -> bool:
    """Greetings, thanks, laughter, agreement, emoji: things said to people, not questions."""
    if only_symbols(text):
        return True
    if "?" in text:
        return False
    plain = " ".join(words(text))
    if SMALL_TALK.fullmatch(plain):
        return True
    return bool(_TRAILING.match(plain)) and len(plain.split()) <= SMALL_TALK_WORDS


def looks_like_question(text: str) -> bool:
    """A question mark, a question word or imperative first, or a help-seeking statement."""
    if is_small_talk(text):
        return False
    if "?" in text:
        return True
    tokens = words(text)
    if not tokens:
        return False
    first = tokens[0].replace("'", "")
    if first in QUESTION_WORDS or first in IMPERATIVES:
        return True
    if first in {"please", "pls", "plz", "can", "could"} and len(tokens) > 1 and tokens[1] in IMPERATIVES:
        return True
    return bool(HELP_SEEKING.search(text))
