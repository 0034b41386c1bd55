"""Outline: "What's in X?" is answered by the sections of the document X names."""

from __future__ import annotations

import pytest

from assistant.outline import asks_contents, names_title, points_at_title
from tests.conftest import toy_assistant


@pytest.mark.parametrize("question, asks", [
    ("What's in the PR template?", True), ("What does the engineering fundamentals checklist cover?", True),
    ("What is in the first week document?", True), ("Give me an overview of the release checklist", True),
    ("What does the playbook say about code reviews?", False), ("What are the benefits of pairing?", False),
    ("What is a design review?", False),
])
def test_a_question_asking_what_a_document_holds_is_told_apart(question, asks):
    assert asks_contents(question) == asks


def test_a_document_is_named_by_its_title_words_or_their_acronym():
    assert names_title("What's in the PR template?", "Pull Request Template")
    assert names_title("What's in the engineering fundamentals checklist?", "Engineering Fundamentals Checklist")
    assert not names_title("What's in the checklist?", "Engineering Fundamentals Checklist")  # one word of three
    assert not names_title("What's in the CD template?", "Pull Request Template")


def test_a_question_points_at_a_document_by_its_whole_title_as_a_noun_phrase():
    assert points_at_title("According to the engineering fundamentals checklist, what can developers do?",
                           "Engineering Fundamentals Checklist")
    assert points_at_title("Which service mesh did the team pick in their decision log?", "Decision Log")
    # Title words spread over the question, or running into another name, are its topic.
    assert not points_at_title("Which static analysis tools check Java code?", "Static Code Analysis")
    assert not points_at_title("In the Power Platform continuous delivery flow, why?", "Continuous Delivery")
    assert not points_at_title("How do unit, integration and E2E tests differ?", "E2E Testing")
    assert not points_at_title("What does the observability page say?", "Observability")  # one word: a topic


def test_the_document_a_question_points_at_answers_before_a_closer_match_elsewhere(tmp_path):
    """"According to the engineering fundamentals checklist, what should every developer be able to do in
    their local dev setup?" was answered from another page's local-setup advice, which matched the words
    better; the user named the page to read."""
    pages = {
        "checklist.md": "# Onboarding Checklist\n\n## Local setup\n\nDevelopers on the team can:\n\n"
                        "- Attach a debugger in the local dev setup.\n- Run every automated test with one command.\n",
        "devex.md": "# Developer Experience\n\n## Local setup\n\nEvery developer should be able to work from their "
                    "own machine, whatever its operating system.\n",
    }
    assistant = toy_assistant(tmp_path, pages)
    question = "According to the onboarding checklist, what should every developer on the team be able to do in the local dev setup?"
    answer = assistant.ask(question)
    assert not answer.refused, answer.reason
    assert answer.citations[0].source == "checklist.md" and "debugger" in answer.text, answer.text
    plain = assistant.ask("What should every developer on the team be able to do in the local dev setup?")
    assert plain.citations[0].source == "devex.md", plain.text  # no pointer: the closer match leads


def test_what_is_in_a_document_is_answered_by_all_its_sections(tmp_path):
    """The search for "release checklist" finds two of the page's five sections; the outline gives the rest,
    one line each with its first statement, in document order."""
    sections = {"Build": "The build runs on every merge to main.", "Tests": "All unit and smoke tests pass.",
                "Security": "Dependencies are scanned for known flaws.", "Docs": "The changelog names every change.",
                "Sign-off": "The product owner approves the release."}
    page = "# Release Checklist\n\nUse this release checklist before each release.\n\n" + "".join(
        f"## {name}\n\n{text} Nothing ships until this holds for the release.\n\n" for name, text in sections.items())
    other = {f"other{i}.md": f"# Other {i}\n\nA release checklist item, topic {i}.\n" for i in range(3)}
    assistant = toy_assistant(tmp_path, {"release.md": page, **other}, k=2)
    answer = assistant.ask("What's in the release checklist?")
    assert not answer.refused, answer.reason
    lines = [line for line in answer.text.splitlines() if line.startswith("- ")]
    assert [line.split(":")[0][2:] for line in lines] == list(sections), answer.text
    assert all(text in answer.text for text in sections.values())
    # The same words asked about, not asked what the page holds: the ordinary answer.
    assert "- Security:" not in assistant.ask("Why use the release checklist?").text
