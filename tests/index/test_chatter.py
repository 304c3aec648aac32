"""The chatty wrapper of a question is peeled before searching; the question itself never is."""

from __future__ import annotations

import pytest

from citebot.index.chatter import core


@pytest.mark.parametrize(("message", "question"), [
    ("hey everyone, quick question: how do I make a field optional? thanks in advance!",
     "how do I make a field optional?"),
    ("hi! sorry if this is a dumb question but how do I sync slash commands? thx", "how do I sync slash commands?"),
    ("so um, why does my bot not see messages? any help appreciated 🙏", "why does my bot not see messages?"),
    ("Can someone help? my model rejects extra keys", "my model rejects extra keys"),
    ("pls help my bot crashes on startup", "my bot crashes on startup"),
    ("Sorry for the noob question, but what is a cog?", "what is a cog?"),
    ("Hello all. I'm new to this, how do I validate emails? Thanks!", "how do I validate emails?"),
    ("okay so how do intents work", "how do intents work"),
    ("how do I get the member's avatar? ty", "how do I get the member's avatar?"),
    ("is my bot's token a secret?tia", "is my bot's token a secret?"),
    ("hey my bot is offline", "my bot is offline"),
    ("Greetings! how do I add a cog?", "how do I add a cog?"),
    ("ok, the embed has no colour", "the embed has no colour"),
    ("well I tried sync() and nothing happened", "I tried sync() and nothing happened"),
    ("yo what's a cog", "what's a cog"),
])
def test_wrappers_are_peeled_from_both_ends(message: str, question: str) -> None:
    assert core(message) == question


@pytest.mark.parametrize("question", [
    "how do I say thanks in my bot?",
    "What does ok mean in the response?",
    "Which help command does the library ship?",
    "is `so` a keyword?",
    "Hello world example for a slash command?",
    # A closer's words must stand alone: "ty" and "tia" end these words, and peeling them cut the question
    "the text of every message comes through empty",
    "What law connects relative velocities with inertia?",
    "Who wrote the Lisbon Treaty?",
    "why can't I add a @property?",
    # nor a greeting's word joined to the next by a hyphen
    "Hi-DPI scaling looks blurry, how do I fix it?",
    "hello-world example for a slash command?",
    # nor a word that names a thing: a greeting or a filler word is one only before punctuation or a question
    "Greetings message when a member joins?",
    "Hello command never answers",
    "OK button does nothing when clicked",
    "Well formatted JSON is rejected",
    "So many warnings on startup, can I hide them?",
])
def test_ordinary_questions_are_left_alone(question: str) -> None:
    assert core(question) == question


@pytest.mark.parametrize("message", ["thanks!", "hello", "hey all", "🙏🙏", "any help appreciated"])
def test_a_message_that_is_only_wrapper_is_searched_as_written(message: str) -> None:
    assert core(message) == message
