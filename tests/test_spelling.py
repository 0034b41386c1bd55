"""Spelling: a question's word that neither the corpus nor English uses is read as the corpus word a slip away."""

from __future__ import annotations

import pytest

from assistant.spelling import correct, english
from tests.conftest import toy_assistant

CHUNKS = {"script": 12, "scripts": 12, "terraform": 30, "break": 4, "pipeline": 40, "rare": 1, "example": 9}


def frequency(word: str) -> int:
    return CHUNKS.get(word, 0)


@pytest.mark.parametrize("typed, read", [
    ("lint our bash scirpts", "lint our bash scripts"),  # a transposition
    ("our terrafrom apply", "our terraform apply"),
    ("the tdd exmaple", "the tdd example"),
    ("what shuold we use", "what should we use"),  # a common word, however rare in the corpus
    ("a recipe for bread", "a recipe for bread"),  # English, though no document says it: no slip
    ("the Scirpts folder", "the Scirpts folder"),  # capitalised: perhaps a name the corpus lacks
    ("the raer case", "the raer case"),  # its neighbour is in fewer than three chunks
    ("our pipelne and our scirpts", "our pipeline and our scripts"),
    ("scirpts/ and line_profilr", "scirpts/ and line_profilr"),  # paths and identifiers are typed on purpose
])
def test_a_typing_slip_is_read_as_the_corpus_word(typed, read):
    assert correct(typed, frequency, set(CHUNKS)) == read


def test_english_is_the_word_list_that_tells_a_slip_from_a_word():
    assert english("bread") and english("scalene") and not english("scirpts")


def test_a_question_with_a_slip_finds_what_it_would_find_typed_right(tmp_path):
    """"what tools shuold we use to lint our bash scirpts?": BM25 and the embedding both miss "scirpts". The
    question is searched and read as "scripts"; the answer keeps the question as asked, its query what was
    searched. With `correct_spelling` off it is searched as typed."""
    files = {"bash.md": "# Bash\n\nCheck your scripts with shellcheck in the pipeline.\n\nScripts are run by bash.\n",
             "docs.md": "# Docs\n\nLint the markdown docs with markdownlint in the pipeline.\n",
             "more.md": "# Shell\n\nShell scripts need tests too.\n\nKeep scripts small.\n",
             "ci.md": "# CI\n\nThe build runs the release scripts last.\n"}
    question = "Which tool lints our scirpts?"
    answer = toy_assistant(tmp_path / "on", files).ask(question)
    assert answer.question == question and "scripts" in answer.query and "scirpts" not in answer.query
    assert "shellcheck" in answer.text
    typed = toy_assistant(tmp_path / "off", files, correct_spelling=False).ask(question)
    assert "scirpts" in typed.query


def test_warming_up_loads_the_word_list_before_the_first_question(tmp_path):
    from assistant import spelling

    spelling._english.cache_clear()
    toy_assistant(tmp_path, {"a.md": "# A\n\nScripts run in the pipeline.\n"}).warm_up()
    assert spelling._english.cache_info().currsize == 1
