"""Problems: a question restating a problem and asking how to solve it gets what the problem's page says next.
Documents written for the test, on the hashed bag-of-words embedder (toy_assistant)."""

from __future__ import annotations

import pytest

from tests.conftest import toy_assistant


STORAGE_TESTS = """# Emulator Guide

## Private Endpoints

Once private endpoints are enabled for the storage account, the blob storage tests fail locally and in the
pipeline because the connection is blocked.

## Emulator

Start the Azurite emulator in a container beside the CI job. Point the connection string at the emulator
instead of the cloud.
"""

RUNNING_TESTS = """# Test Runs

## Local Runs

Keep the tests running locally before every push, so the pipeline stays green.
"""


@pytest.mark.parametrize("ask, solved", [("How do we keep them running?", True),
                                         ("What does the page say?", False)])
def test_a_restated_problem_brings_what_its_page_says_next(tmp_path, ask, solved):
    """"Our blob storage tests started failing once we turned on private endpoints. How do we keep them
    running?": the best match says the problem back; the page solves it in its next section, whose words
    match the question less. A question asking how brings that section, right after the problem; one asking
    what the page says does not."""
    assistant = toy_assistant(tmp_path, {"storage.md": STORAGE_TESTS, "runs.md": RUNNING_TESTS})
    question = ("Our blob storage tests started failing once we turned on private endpoints for the storage "
                f"account. {ask}")
    text = assistant.ask(question).text
    assert text.startswith("Once private endpoints are enabled")
    assert ("Start the Azurite emulator" in text) is solved
    if solved:
        assert text.index("Azurite") < text.find("Keep the tests running") or "Keep the tests running" not in text


def test_the_chunk_after_a_chunk_is_the_next_in_its_document(tmp_path):
    assistant = toy_assistant(tmp_path, {"storage.md": STORAGE_TESTS, "runs.md": RUNNING_TESTS})
    retriever = assistant.chain.retriever
    hits = {h.section.split(" > ")[-1]: h for h in retriever.lookup(list(retriever.ids))}
    assert retriever.following(hits["Private Endpoints"].id) == hits["Emulator"].id
    assert retriever.following(hits["Emulator"].id) is None  # the document ends there
    assert retriever.following(hits["Local Runs"].id) is None


def test_the_page_after_a_restated_problem_is_fetched_when_the_search_missed_it(tmp_path):
    """The solution's words match the question less than eight pages about storage tests do: retrieval alone
    leaves it out; the question's scene restated by the best passage brings it."""
    from assistant.chain import ChainState

    notes = ["Blob storage tests started failing once the account keys rotated.",
             "Our storage tests kept failing once the quota of the account was reached.",
             "Private endpoints for the storage account need a DNS zone.",
             "Blob storage tests are slow when the account sits in another region.",
             "Tests of the storage account started failing once soft delete was turned on.",
             "Turned on private endpoints hide the storage account from the internet.",
             "The blob storage account logs every failing request.",
             "Storage tests started failing once the SDK was upgraded."]
    others = {f"note{i}.md": f"# Note {i}\n\n{text}\n" for i, text in enumerate(notes)}
    assistant = toy_assistant(tmp_path, {"storage.md": STORAGE_TESTS, **others})
    question = ("Our blob storage tests started failing once we turned on private endpoints for the storage "
                "account. How do we keep them running?")
    searched = [h.section for h in assistant.chain.retriever.retrieve(question).hits]
    context = assistant.chain.steps.invoke(ChainState(question=question, history=())).context
    assert "Private Endpoints" in searched and "Emulator" not in searched
    assert "Emulator" in [p.hit.section for p in context.passages]


@pytest.mark.parametrize("asked, method", [
    ("How do we keep it manageable?", True), ("What's the workaround?", True), ("so how do i lint them?", True),
    ("What can we do about it?", True), ("How to fix it?", True), ("What does the playbook recommend?", True),
    ("How do they compare?", False), ("How many tests are there?", False), ("What does the guide say?", False),
])
def test_a_question_asking_for_a_way_to_do_something_is_told(asked, method):
    from assistant.grammar import _ASKS_METHOD

    assert bool(_ASKS_METHOD.match(asked)) is method

