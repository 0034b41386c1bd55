"""Small talk: greetings, thanks and questions about the assistant are answered without the documents."""

from __future__ import annotations

import pytest

from assistant.domain import DomainProfile
from assistant.smalltalk import small_talk, without_greeting


@pytest.mark.parametrize("message, opens", [
    ("hi", "Hello!"), ("Hello there!", "Hello!"), ("good morning", "Hello!"),
    ("thanks!", "You're welcome."), ("ok, thank you so much", "You're welcome."), ("Cheers", "You're welcome."),
    ("What can you help me with?", "I answer questions about"), ("Who are you?", "I answer questions about"),
    ("help", "I answer questions about"),
])
def test_small_talk_gets_a_reply_that_says_what_the_assistant_does(message, opens):
    profile = DomainProfile(subject="our payment runbooks", example_questions=("How do we rotate keys?",))
    reply = small_talk(message, profile)
    assert reply.startswith(opens), reply
    if not opens.startswith("You"):
        assert "our payment runbooks" in reply and '"How do we rotate keys?"' in reply


@pytest.mark.parametrize("message", ["hi, what is GitOps?", "Thanks for the help, how do I write a commit message?",
                                     "What do you know about canary releases?", "How can you help with on-call?",
                                     "Highlights of the release process?", "thanks to whom is the playbook written?"])
def test_a_question_is_never_small_talk(message):
    assert small_talk(message, DomainProfile()) == ""


@pytest.mark.parametrize("message, question", [
    ("hi, what is GitOps?", "what is GitOps?"), ("Hello! Which tools?", "Which tools?"),
    ("hey what is gitops", "what is gitops"), ("Hey there - how do I deploy?", "how do I deploy?"),
    ("Highlights of DevOps?", "Highlights of DevOps?"), ("hi", "hi"),
])
def test_a_greeting_before_a_question_is_no_part_of_it(message, question):
    assert without_greeting(message) == question


def test_the_chain_answers_small_talk_without_retrieving(tmp_path):
    from tests.test_fast_pipeline import build

    assistant = build(tmp_path)
    assistant.ensure_index(progress=False)
    calls = assistant.embedder.calls
    answer = assistant.ask("Hi!")
    assert not answer.refused and answer.citations == () and answer.text.startswith("Hello!")
    assert answer.answerer == "none" and "small talk" in answer.reason
    assert assistant.embedder.calls == calls  # nothing was embedded or retrieved
    greeted = assistant.ask("Hi, when are database backups taken?")
    assert not greeted.refused and "02:00 UTC" in greeted.text


def test_a_small_talk_reply_shows_no_sources(tmp_path):
    from tests.test_fast_pipeline import build
    from ui.render import answer_message, sources_panel

    assistant = build(tmp_path)
    assistant.ensure_index(progress=False)
    reply = assistant.ask("thanks!")
    assert "does not come from the documents" in sources_panel(reply)
    message = answer_message(reply)
    assert 'class="answer-sources"' not in message and "welcome. Ask me anything" in message


@pytest.mark.parametrize("history, query", [
    (["What is a trade study?", "thanks!"], "What are the steps? (trade study)"),  # thanks changes no subject
    (["hi", "What is a trade study?"], "What are the steps? (trade study)"),
    (["Hello! What is a trade study?"], "What are the steps? (trade study)"),
    (["thanks"], "What are the steps?"),  # nothing to carry over
])
def test_small_talk_turns_are_no_part_of_the_conversations_subject(history, query):
    from assistant.followup import expand_followup

    assert expand_followup("What are the steps?", history, 3, DomainProfile()) == query
