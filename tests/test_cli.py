"""CLI: JSON contracts, and every user error as one line on stderr with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant.config import PROJECT_ROOT
from assistant.errors import UserError
from ui.cli import main
from tests.conftest import copy_corpus, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def corpus(tmp_path):
    return copy_corpus(tmp_path / "corpus")


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_index_twice_embeds_nothing_the_second_time(corpus):
    first = run_cli("index", "--json")
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout)
    assert set(stats) >= {"documents", "chunks", "embedded", "deleted", "seconds"}
    assert stats["embedded"] == stats["chunks"] > 0
    second = json.loads(run_cli("index", "--json").stdout)
    assert second["embedded"] == 0 and second["chunks"] == stats["chunks"]


def test_search_json_contract(corpus, capsys):
    assert main(["search", "What happened at Merck?", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"id", "source", "section", "text", "score"} <= set(rows[0])
    assert "Merck" in rows[0]["text"]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


@pytest.mark.parametrize("question, message", [
    ("", "the question is empty"),
    ("   \t ", "the question is empty"),
    ("x" * 2001, "too long (2001 characters; the limit is 2000)"),
])
def test_bad_questions(corpus, capsys, question, message):
    for command in ("search", "ask"):
        assert main([command, question]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_no_corpus_files(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["index", "--corpus", str(tmp_path / "empty")]) == 2
    assert "no readable corpus files" in capsys.readouterr().err


def test_unreachable_chroma_names_the_url(corpus):
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("search", "What is MLOps?", env={"ASSISTANT_CHROMA_URL": url})
    assert result.returncode == 2
    assert url in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_index_is_built_on_first_use(corpus, tmp_path, capsys):
    assert not (tmp_path / "index").exists()
    assert main(["search", "Which tools are used in DevOps?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert (tmp_path / "index" / "chroma").is_dir()


def test_help_shows_examples():
    result = run_cli("ask", "--help")
    assert result.returncode == 0 and "example:" in result.stdout and "assistant ask" in result.stdout


def test_ask_json_contract_with_history(corpus, capsys):
    assert main(["ask", "And its challenges?", "--history", "What are the benefits of ModelOps?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"question", "answer", "refused", "citations", "sentences"} <= set(data)
    assert data["refused"] is False and data["citations"]
    assert all(c["section"] == "ModelOps > Challenges" for c in data["citations"])
    assert all(s["citations"] and s["supported"] for s in data["sentences"])


def test_ask_prints_answer_and_numbered_sources(corpus, capsys):
    assert main(["ask", "What happened at Merck?"]) == 0
    out = capsys.readouterr().out
    assert "Merck" in out and "Sources:" in out and "[1] mlops-devops-modelops.md > MLOps > Use cases" in out


def test_terminal_chat_keeps_history(corpus):
    result = subprocess.run([sys.executable, "-m", "assistant", "chat"], input="What are the benefits of ModelOps?\n"
                            "And its challenges?\n\n", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("you>") == 3
    second = result.stdout.split("you>")[2]
    assert "ModelOps > Challenges" in second


def test_a_question_that_is_not_utf8_is_one_line_not_a_traceback(tmp_path):
    # The bytes of "café" in Latin-1 and a stray 0xff, as a terminal in another encoding sends them.
    result = subprocess.run([sys.executable.encode(), b"-m", b"assistant", b"ask", b"caf\xe9 \xff pipelines?"],
                            capture_output=True, timeout=120, cwd=PROJECT_ROOT)
    assert result.returncode == 2, result.stderr[-1500:]
    assert result.stderr.decode().strip() == ("error: the question is not valid UTF-8 text "
                                              "(check your terminal's or client's encoding)")


def test_lone_surrogates_from_json_clients_are_refused_cleanly():
    from assistant.app import check_question

    with pytest.raises(UserError, match="not valid UTF-8"):
        check_question("deploy \ud800 now", 2000)


def test_a_reader_that_goes_away_is_no_traceback(corpus):
    """`assistant ask ... | head -1`: the pipe closes before the answer is written; the process ends
    quietly (exit 1, as Python's own recipe for EPIPE), not with a BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "ask", "What happened at Merck?"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
