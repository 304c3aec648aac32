"""The question inside a chatty message: greetings, apologies and thanks taken off before searching.

Members write "hey all, quick question: how do I ...? thanks in advance!" and the wrapper is not noise to
either retriever: its words pull keyword search towards passages that say "question" or "thanks", and
they move the question's vector away from the passage's. So the wrapper is peeled off first: openers
(greetings, "quick question", "sorry if this is dumb but", "can someone help?", "so, um") from the start,
closers ("thanks!", "any help appreciated", "please help", emoji) from the end, repeatedly. What a member
asks is never touched: a message that is nothing but wrapper is searched as written.

Hand-written patterns, not a model: the phrases are few, the same across communities, and a wrong peel
must be impossible on an ordinary question (every pattern is anchored at the start or the end and needs
the wrapper's own words).
"""

from __future__ import annotations

import re

_SEP = r"[\s,.!:;\-–—~]*"  # what follows a peeled phrase: punctuation and spaces
_WHO = r"(?:\s+(?:there|all|everyone|everybody|folks|guys|team|people|friends|y'?all|devs|gang))?"
# A greeting or a filler word ("ok", "so", "well") is one only when punctuation or the start of a question
# follows it: "Hello command never answers", "OK button does nothing", "Greetings message on join" and
# "Well formatted JSON is rejected" name things, and "hello world" a program.
_THEN = (r"(?=\s*(?:[,.!:;\-–—~…]|$)|\s+(?:how|what|what'?s|whats|why|when|where|which|who|is|are|was|can|could|"
         r"would|should|does|do|did|has|have|i|i'?m|im|i'?ve|ive|my|we|our|so|ok|okay|now|then|any\s*one|"
         r"some\s*one|any\s*body|quick|just|need|trying|please|pls|question|got|basically|um+|uh+)\b)")
OPENERS = tuple(re.compile(p + _SEP, re.IGNORECASE) for p in (
    r"^(?:hey|hi|hello|heya|hiya|yo|howdy|greetings|sup|good\s+(?:morning|afternoon|evening))" + _WHO
    + r"\b(?!-\w)" + _THEN,  # "Hi-DPI" is no "hi"
    r"^(?:(?:a|one)\s+)?(?:quick|dumb|stupid|silly|noob|newbie|beginner|simple|small|basic)\s+(?:question|q)\b",
    r"^(?:i\s+have|i'?ve\s+got|got)\s+a\s+(?:(?:quick|small|simple|dumb|noob)\s+)?question\b(?:\s+about\s+\w+)?",
    r"^(?:sorry|apologies)\s+(?:if|for)\b[^,:;]{0,60}?(?:[,:;]|\s+but\b)(?:\s*but\b)?",
    r"^(?:can|could|would)\s+(?:some\s*one|some\s*body|any\s*one|any\s*body|you)\s+(?:please\s+)?help"
    r"(?:\s+me)?(?:\s+out)?(?:\s+with\s+(?:this|something))?\s*\?",
    r"^(?:please|pls|plz)\s+help(?:\s+me)?\b",
    r"^(?:so|ok|okay|well|alright)\b" + _THEN,
    r"^(?:um+|uh+|hm+)\b(?=[\s,])",
    r"^(?:i'?m|i\s+am)\s+(?:new|a\s+beginner|a\s+noob)(?:\s+(?:to|at|with)\s+[^,.;:]{1,40})?(?=[,.;:])",
)
)
# Each closer made of words starts at a word boundary: "ty" and "tia" close "ok ty!", never "empty?" or
# "inertia?" (without it, every question ending in "-ty" lost those letters: 1 in 50 of SQuAD's).
CLOSERS = tuple(re.compile(_SEP.replace("*", "*?") + p + r"[\s.!?]*$", re.IGNORECASE) for p in (
    r"\b(?:thanks|thank\s+you|thx|thnx|ty|tia|cheers)(?:\s+(?:in\s+advance|a\s+lot|so\s+much|all|guys|everyone))?",
    r"\bany\s+(?:help|ideas?|tips?|suggestions?|pointers?|advice)(?:\s+(?:is|are|would\s+be))?"
    r"(?:\s+(?:much\s+|greatly\s+|really\s+)?(?:appreciated|welcome))?",
    r"\b(?:please|pls|plz)\s+help(?:\s+me)?",
    r"\bhelp\s+(?:please|pls|plz)",
    r"[\U0001F300-\U0001FAFF\u2600-\u27BF\uFE0F\u200d]+",
))
PEEL_ROUNDS = 4  # wrappers nest ("hey all! quick question: ..."); four rounds peel every mix seen, bounded


def core(question: str) -> str:
    """``question`` without its conversational wrapper; unchanged when nothing but wrapper would be left."""
    text = question.strip()
    for _ in range(PEEL_ROUNDS):
        before = text
        for pattern in OPENERS:
            text = pattern.sub("", text, count=1).lstrip()
        for pattern in CLOSERS:
            text = pattern.sub("", text, count=1).rstrip()
        if text == before:
            break
    return text if any(ch.isalnum() for ch in text) else question.strip()
