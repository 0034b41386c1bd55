"""Eval: question format, metric functions on hand-made cases, the runner, compare and the CI gate."""

from __future__ import annotations

import json

import pytest

from ui.cli import main
from assistant.errors import UserError
from assistant.types import Hit
from eval import metrics as m
from eval.cli import check_thresholds
from eval.questions import Question, load_questions
from eval.runner import grounded, score, summarise
from tests.conftest import copy_corpus

PASSAGE = "DevOps relies heavily on automation and tooling, which can add complexity and cost."


def write(tmp_path, lines):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 2: not valid JSON"),
    ('{"id": "x"}', 'line 2: missing "question"'),
    ('{"id": "x", "question": "Q?", "expected_facts": ["Ansible"]}', "line 2: each expected fact"),
    ('{"id": "x", "question": "Q?", "answerable": "yes"}', 'line 2: "answerable" must be true or false'),
    ('{"id": "q1", "question": "Again?"}', "line 2: duplicate id 'q1'"),
    ('["a list"]', "line 2: expected a JSON object"),
])
def test_bad_lines_name_their_line(tmp_path, line, message):
    path = write(tmp_path, ['{"id": "q1", "question": "What is MLOps?"}', line])
    with pytest.raises(UserError, match=message):
        load_questions(path)


def test_format_defaults_and_optional_keys(tmp_path):
    path = write(tmp_path, [
        '{"id": "a", "question": "Which tools?", "expected_facts": [["Ansible"], ["Chef", "chef"]], '
        '"expected_sources": ["DevOps"], "history": ["What is DevOps?"], "extra": 1}',
        '', '{"id": 7, "question": "Capital of France?", "answerable": false, "expected_facts": []}'])
    first, second = load_questions(path)
    assert first == Question("a", "Which tools?", True, (("Ansible",), ("Chef", "chef")), ("DevOps",),
                             ("What is DevOps?",))
    assert second.id == "7" and not second.answerable and second.expected_facts == ()


def test_fact_recall_is_case_insensitive_and_any_of():
    facts = [["Ansible"], ["Chef", "Puppet"], ["Terraform"]]
    assert m.fact_recall("Tools: ansible and PUPPET.", facts) == pytest.approx(2 / 3)
    assert m.fact_recall("anything", []) is None


def test_hallucinated_sentence_lowers_groundedness(embedder):
    good, _ = grounded(f"{PASSAGE} [1]", {1: PASSAGE}, embedder, 0.5)
    bad, sentences = grounded(f"{PASSAGE} [1] DevOps was invented on the Moon in 1950. [1]", {1: PASSAGE},
                              embedder, 0.5)
    assert good == 1.0 and bad == 0.5 and [s["supported"] for s in sentences] == [True, False]


def test_a_code_block_counts_as_grounded_only_when_a_cited_passage_holds_it(embedder):
    """Code lines are no sentences (a "# comment" is no heading, "Navigate to ..." no pointer); the block
    itself is checked verbatim against the cited passages."""
    passage = "Install it with npm:\n```bash\n# Navigate to the folder first\nnpm install -g azurite\n  --silent\n```"
    quoted = "Install it with npm: [1]\n\n```bash\n# Navigate to the folder first\nnpm install -g azurite\n  --silent\n```"
    good, sentences = grounded(quoted, {1: passage}, embedder, 0.5)
    assert good == 1.0 and [s["text"] for s in sentences] == ["Install it with npm:"]
    bad, _ = grounded(quoted.replace("azurite", "left-pad"), {1: passage}, embedder, 0.5)
    assert bad == 0.5


def test_context_fact_recall_counts_the_facts_the_passages_hold(embedder):
    """The ceiling of fact recall: a fact the answer leaves out still counts when a passage holds it."""
    q = Question("a", "Which tools?", True, (("Jenkins",), ("Puppet",)))
    hits = [Hit(id="c1", source="s.md", title="S", section="Tools", text="Jenkins and Puppet are used.")]
    row = score(q, "Jenkins is used. [1]", False, {1: hits[0].text}, {1: "c1"}, hits, 5.0, embedder, 0.5)
    assert row["fact_recall"] == 0.5 and row["context_fact_recall"] == 1.0
    assert summarise([row], 5)["context_fact_recall"] == 1.0


def test_refusal_on_answerable_is_a_false_refusal(embedder):
    answerable = Question("a", "Q?", True, (("Ansible",),))
    unanswerable = Question("b", "Capital?", False)
    rows = [score(answerable, "", True, {}, {}, [], 5.0, embedder, 0.5),
            score(unanswerable, "", True, {}, {}, [], 7.0, embedder, 0.5),
            score(unanswerable, f"{PASSAGE} [1]", False, {1: PASSAGE}, {1: "c1"}, [], 9.0, embedder, 0.5)]
    assert rows[0]["false_refusal"] is True and rows[0]["fact_recall"] == 0.0
    assert rows[0]["context_fact_recall"] == 0.0  # nothing was retrieved
    summary = summarise(rows, 5)
    assert summary["false_refusals"] == 1 and summary["refusal_accuracy"] == 0.5
    assert summary["questions"] == 3 and summary["latency_p95_ms"] == 9.0


def test_citation_validity_counts_markers_to_retrieved_passages():
    assert m.citation_validity("A [1]. B [2]. C [3].", {1: "x", 2: "y"}, ["x"]) == pytest.approx(1 / 3)
    assert m.citation_validity("No markers.", {}, []) is None


def test_rank_metrics_and_relevance():
    assert m.rank_metrics([False, True, False]) == (1.0, 0.5)
    assert m.rank_metrics([False, False]) == (0.0, 0.0)
    assert m.relevant("DevOps > Use cases", "a.md", "", ["DevOps"], [])
    assert not m.relevant("MLOps > Use cases", "a.md", "", ["DevOps"], [])
    assert m.relevant("X", "a.md", "uses Ansible daily", [], [["ansible"]])


def test_bootstrap_is_reproducible_and_brackets_the_mean():
    values = [0, 1, 1, 0.5, 1, 0, 1, 1]
    first, second = m.bootstrap_ci(values), m.bootstrap_ci(values)
    assert first == second and first[0] <= m.mean(values) <= first[1]


def test_thresholds():
    summary = {"fact_recall": 0.7, "false_refusals": 3, "groundedness": 1.0}
    failed = check_thresholds(summary, {"min-fact-recall": 0.8, "max-false-refusals": 2,
                                        "min-groundedness": 0.98, "min-mrr": None})
    assert failed == ["fact_recall = 0.7 (below 0.8)", "false_refusals = 3 (above 2)"]


@pytest.mark.slow
def test_runner_on_an_unseen_question_file(tmp_path, capsys):
    copy_corpus(tmp_path / "corpus")
    questions = write(tmp_path, [
        json.dumps({"id": "n1", "question": "Which tools does DevOps use?",
                    "expected_facts": [["Jenkins"], ["Puppet"]]}),
        json.dumps({"id": "n2", "question": "And its challenges?", "history": ["What are the benefits of ModelOps?"],
                    "expected_facts": [["no single standard"]], "expected_sources": ["ModelOps > Challenges"]}),
        json.dumps({"id": "n3", "question": "Who won the 2022 FIFA World Cup?", "answerable": False}),
    ])
    out = tmp_path / "run"
    code = main(["eval", "--questions", str(questions), "--out", str(out), "--json", "--min-fact-recall", "0.5"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["failed"] == []
    for key in ("questions", "fact_recall", "groundedness", "citation_validity", "hit_at_k", "mrr",
                "refusal_accuracy", "false_refusals", "latency_p95_ms"):
        assert key in summary
    assert summary["questions"] == 3 and summary["refusal_accuracy"] == 1.0 and summary["baseline"]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {"question", "answer", "refused", "citations", "retrieved", "fact_recall", "latency_ms"} <= set(rows[0])
    assert (out / "report.html").read_text().startswith("<!doctype html>")

    # A gate that cannot be met fails the command, and --compare lists what changed.
    code = main(["eval", "--questions", str(questions), "--out", str(tmp_path / "run2"), "--no-baseline",
                 "--min-fact-recall", "1.01", "--compare", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and "eval gate failed: fact_recall" in captured.err
    assert "0 questions changed" in captured.out


def test_questions_are_non_answers_unless_questions_or_a_checklist_are_asked_for():
    from assistant.domain import DomainProfile
    from eval.metrics import non_answer_sentences

    quoted = ["Is the code subject to concurrency issues?", "Are magic numbers explained?", "See the docs."]
    assert non_answer_sentences(quoted, DomainProfile(), "How should we review C# code?") == 3
    assert non_answer_sentences(quoted, DomainProfile(), "What should a C# review checklist include?") == 1


def test_groundedness_reads_a_cited_passage_with_its_heading_as_the_verifier_does(tmp_path):
    """A set of sections is answered one "- Heading: first sentence [n]" line each; the heading is
    the cited passage's own ("QuokkaJS"), which the answer path's verifier reads with its text. The eval re-checks the
    answer the same way, so groundedness stays 1.0 (it read 0.91 for the E2E frameworks answer)."""
    from eval.questions import Question
    from eval.runner import run_assistant
    from tests.conftest import toy_assistant

    names = {"QuokkaJS": "It is a free framework for end-to-end tests.", "Zephyr.io": "It is a keyword-driven runner.",
             "WombatCI": "It records tests in a browser.", "NumbatX": "It runs tests from spreadsheets."}
    page = "# Test Tools\n\n## Frameworks\n\nThe team tried several over the years.\n\n" + "".join(
        f"### {name}\n\n{text} Teams pick it for end-to-end suites.\n\n" for name, text in names.items())
    assistant = toy_assistant(tmp_path, {"tools.md": page})
    (row,) = run_assistant(assistant, [Question("f", "Which frameworks has the team used?", True, (("QuokkaJS",),))],
                           progress=False)
    assert "- QuokkaJS:" in row["answer"] and row["groundedness"] == 1.0, row["answer"]
