"""Verifier: citations must exist and support their sentence; key names must match."""

from __future__ import annotations

import numpy as np

from assistant.context import Context, Passage
from assistant.types import Hit, Retrieval
from assistant.verify import keys_present, parse_sentences, strict_support, verify

MODELOPS = "ModelOps requires robust model monitoring and governance processes to meet regulatory requirements."
DEVOPS = "DevOps relies heavily on automation and tooling, which can add complexity."


def context(*texts: str) -> Context:
    passages = []
    for n, text in enumerate(texts, 1):
        hit = Hit(id=f"id{n}", source="doc.md", title="Doc", section=f"Section {n}", text=text, score=1.0 / n)
        passages.append(Passage(n, hit, (text,), np.zeros((1, 4), np.float32)))
    return Context(Retrieval(question="q", query="q", hits=tuple(p.hit for p in passages)), tuple(passages),
                   np.zeros(4, np.float32))


def no_vectors(texts):
    return np.zeros((len(texts), 4), np.float32)


def test_parse_sentences_and_markers():
    parsed = parse_sentences("DevOps automates delivery. [1] MLOps tracks models [2][3] Third one [1, 2].")
    assert parsed == [("DevOps automates delivery.", (1,)), ("MLOps tracks models", (2, 3)), ("Third one.", (1, 2))]
    # A parenthesis closing on an abbreviation, then the marker: one sentence, its marker kept.
    assert parse_sentences("New needs arise (data, time etc.). [1] Fail fast. [1]") == [
        ("New needs arise (data, time etc.).", (1,)), ("Fail fast.", (1,))]
    # A sentence opening with a lower-case tool name after a cited one is a sentence of its own.
    assert parse_sentences("It scans the current state. [1] detect-secrets keeps a baseline. [2]") == [
        ("It scans the current state.", (1,)), ("detect-secrets keeps a baseline.", (2,))]


def test_supported_sentence_is_kept():
    checked = verify(f"{DEVOPS} [1]", context(DEVOPS), no_vectors)
    assert checked.removed == 0 and checked.sentences[0].supported


def test_wrong_methodology_is_unsupported():
    claim = "DevOps requires robust model monitoring and governance processes to meet regulatory requirements. [1]"
    checked = verify(claim, context(MODELOPS), no_vectors)
    assert checked.removed == 1 and not checked.sentences[0].supported
    assert not keys_present("DevOps requires governance.", MODELOPS)


def test_invalid_citation_numbers_are_counted_and_never_support():
    checked = verify(f"{DEVOPS} [7]", context(DEVOPS), no_vectors, attribute=False)
    assert checked.invalid_citations == 1 and checked.removed == 1


def test_invalid_citation_is_recited_to_the_passage_that_supports_it():
    checked = verify(f"{DEVOPS} [7]", context(MODELOPS, DEVOPS), no_vectors)
    assert checked.invalid_citations == 1 and checked.removed == 0 and checked.reattributed == 1
    assert checked.sentences[0].citations == (2,) and checked.sentences[0].supported


def test_uncited_sentence_is_removed_without_attribution_and_cited_with_it():
    assert verify(f"{DEVOPS}", context(DEVOPS), no_vectors, attribute=False).removed == 1
    checked = verify(f"{DEVOPS}", context(MODELOPS, DEVOPS), no_vectors)
    assert checked.removed == 0 and checked.sentences[0].citations == (2,)


def test_unsupported_sentence_is_never_attributed():
    checked = verify("DevOps was invented at NASA in 1969 by astronauts.", context(MODELOPS, DEVOPS), no_vectors)
    assert checked.removed == 1 and checked.reattributed == 0


def test_hallucinated_sentence_is_removed_and_the_rest_kept():
    text = f"{DEVOPS} [1] DevOps was invented at NASA in 1969 by astronauts. [1]"
    checked = verify(text, context(DEVOPS), no_vectors)
    assert [s.supported for s in checked.sentences] == [True, False] and checked.removed == 1


def test_embedding_similarity_lifts_a_close_paraphrase():
    passage = "MLOps can be expensive, particularly for organizations that must invest in new infrastructure."
    claim = "MLOps can be expensive for organizations that invest in new infrastructure and staff. [1]"
    ctx = context(passage)
    vec = np.array([1, 0, 0, 0], np.float32)
    ctx.passages[0].unit_vectors[:] = vec
    kept = verify(claim, ctx, lambda texts: np.tile(vec, (len(texts), 1)), min_score=0.8)
    dropped = verify(claim, ctx, no_vectors, min_score=0.8)
    assert kept.sentences[0].supported and not dropped.sentences[0].supported


def test_strict_support_is_stricter():
    assert strict_support(DEVOPS, DEVOPS)
    assert not strict_support("DevOps relies on tooling and culture and budgets.", DEVOPS)


def test_two_names_asked_together_need_one_document_naming_both():
    from types import SimpleNamespace

    from assistant.verify import relevance_gap

    def cite(source, text):
        return SimpleNamespace(source=source, title="T", section="S", text=text)

    answer = SimpleNamespace(sentences=[SimpleNamespace(text="Install the plugin from the IDE.")],
                             citations=[cite("a.md", "Install Gauge on Windows from the IDE."),
                                        cite("b.md", "MLflow can be hosted on Databricks.")])
    assert "together" in relevance_gap("How do I install MLflow on Windows?", answer, 0.9, 0.3)
    assert relevance_gap("How does MLflow compare to Windows tooling?", answer, 0.9, 0.3) == ""  # a comparison
    both = SimpleNamespace(sentences=answer.sentences, citations=[cite("c.md", "MLflow runs on Windows too.")])
    assert relevance_gap("How do I install MLflow on Windows?", both, 0.9, 0.3) == ""
    # Adjacent names are one thing ("REST API"): an answer on versioning an API is no mix of two documents.
    api = SimpleNamespace(sentences=[SimpleNamespace(text="A major version marks a breaking API change.")],
                          citations=[cite("v.md", "A major version marks a breaking API change.")])
    common = lambda term: False  # noqa: E731  (REST is named by many passages: not a rare name)
    assert relevance_gap("How do we version a REST API?", api, 0.9, 0.3, is_rare=common) == ""
    assert "together" in relevance_gap("How do we version a REST API on Windows?", api, 0.9, 0.3, is_rare=common)
    # A name setting the scene is context: "The /User API is late. How do we version a REST API?" asks one thing.
    assert relevance_gap("Our Windows team is late. How do we version a REST API?", api, 0.9, 0.3,
                         is_rare=common) == ""


def test_a_rare_name_the_passages_never_mention_refuses_unless_it_is_an_aside():
    from types import SimpleNamespace

    from assistant.verify import relevance_gap

    cite = SimpleNamespace(source="ci.md", title="T", section="S", text="Set up CI and code review for the ML project.")
    answer = SimpleNamespace(sentences=[SimpleNamespace(text=cite.text)], citations=[cite])
    rare = lambda term: term in {"pm", "kubeflow", "weights", "biases"}  # noqa: E731
    # The thing asked about is absent: refused.
    assert "never mention kubeflow" in relevance_gap("What license is Kubeflow released under?", answer, 0.9, 0.3,
                                                     is_rare=rare)
    assert "never mention" in relevance_gap("How should we use Weights & Biases for ML runs?", answer, 0.9, 0.3,
                                            is_rare=rare)  # one product, one of two things: half
    # An aside among the things the passages do name is context.
    question = "Our PM asks what to set up first for ML, CI and code review?"
    assert relevance_gap(question, answer, 0.9, 0.3, is_rare=rare) == ""


def test_an_acronym_written_out_or_named_by_the_documents_path_is_mentioned():
    from types import SimpleNamespace

    from assistant.verify import relevance_gap

    rare = lambda term: term in {"nfr", "sla"}  # noqa: E731
    text = "Compliance means adhering to GDPR and HIPAA."
    answer = SimpleNamespace(sentences=[SimpleNamespace(text=text)], citations=[
        SimpleNamespace(source="docs/non-functional-requirements/compliance.md", title="Compliance", section="S",
                        text=text)])
    question = "Which regulations does the compliance NFR page call out?"
    assert relevance_gap(question, answer, 0.9, 0.3, is_rare=rare) == ""  # the page's folder spells NFR out
    elsewhere = SimpleNamespace(sentences=answer.sentences, citations=[
        SimpleNamespace(source="docs/compliance.md", title="Compliance", section="S", text=text)])
    assert "never mention nfr" in relevance_gap(question, elsewhere, 0.9, 0.3, is_rare=rare)
    spelt = SimpleNamespace(sentences=answer.sentences, citations=[
        SimpleNamespace(source="docs/compliance.md", title="Compliance", section="S",
                        text=text + " Non-functional requirements need owners.")])
    assert relevance_gap(question, spelt, 0.9, 0.3, is_rare=rare) == ""
    # Two letters spell too many phrases by chance: "SLA" is three, and a sentence without it is no match.
    assert "never mention sla" in relevance_gap("What SLA does the page set?", spelt, 0.9, 0.3, is_rare=rare)


def test_a_multi_word_name_or_a_version_must_be_said_by_the_cited_documents():
    from assistant.verify import _unnamed_phrases

    table = "Key Tools of MLOps: Kubeflow, MLflow. Key Components of MLOps: CI/CD pipelines, Model Serving"
    rare = {"kubeflow"}.__contains__
    is_rare = lambda word: rare(word.lower())  # noqa: E731
    # Named apart is not named: "Kubeflow" and "pipelines" are both there, "Kubeflow Pipelines" is not.
    assert _unnamed_phrases("Which Kubeflow Pipelines components are recommended?", table, is_rare) == \
        ["Kubeflow Pipelines"]
    # A run of common words is no name ("Python ML code"), and a name said in other words still counts.
    assert _unnamed_phrases("Deterministic vs statistical profilers for Python ML code?", table, is_rare) == []
    assert _unnamed_phrases("What does the Secrets Store CSI Driver do?",
                            "the secrets store CSI driver mounts secrets", is_rare) == []
    # A name's words close together in one sentence, in another order, still say it.
    arm = "the latest Mac architecture (Apple M1/Silicon) is ARM64. M1 chips are fast."
    assert _unnamed_phrases("We are on M1 Macs: what now?", arm, lambda w: w == "M1") == []
    assert _unnamed_phrases("We are on M1 Macs: what now?", "Macs are common. Use an M1 chip.",
                            lambda w: w == "M1") == ["M1 Macs"]
    # A version must be there as written: 2.9 is not 2.90.
    assert _unnamed_phrases("Which features of MLflow 2.9 are covered?", "MLflow 2.90 adds tracing", is_rare) == ["2.9"]
    assert _unnamed_phrases("Which features of MLflow 2.9 are covered?", "MLflow 2.9 adds tracing", is_rare) == []


def cited_answer(text: str, cited: str | None = None, source: str = "t.md", section: str = "Section"):
    """An answer of one sentence citing one passage (`cited`, default the sentence itself): what
    relevance_gap reads of an Answer."""
    from types import SimpleNamespace

    return SimpleNamespace(sentences=[SimpleNamespace(text=text)],
                           citations=[SimpleNamespace(source=source, title=source, section=section,
                                                      text=text if cited is None else cited)])


def test_relevance_needs_rare_names_in_the_cited_passages():
    from assistant.verify import relevance_gap

    answer = cited_answer("It saves debugging time.", source="v.md", section="Why validate")
    question = "Why validate our TOML/INI files in the pipeline?"
    assert "never mention" in relevance_gap(question, answer, 0.9, 0.3)
    # A compound is rare only when each part is: "TOML" is common in this corpus, "INI" is not.
    assert relevance_gap(question, answer, 0.9, 0.3, is_rare=lambda t: all(p == "ini" for p in t.split("/"))) == ""
    # A rare name must be in the cited passages, not elsewhere in their document.
    assert "never mention" in relevance_gap("What license is Kubeflow under?", answer, 0.9, 0.3,
                                            related={"v.md": "Kubeflow runs pipelines."})


def test_a_role_answers_a_who_question():
    from assistant.verify import relevance_gap

    passage = "Someone outside the pair should perform the code review."
    assert relevance_gap("Who should review the code?", cited_answer(passage, source="r.md"), 0.9, 0.3) == ""
    nobody = cited_answer("Reviews catch defects early.", cited=passage, source="r.md")
    assert "names no one" in relevance_gap("Who should review the code?", nobody, 0.9, 0.3)


def test_weak_evidence_must_name_the_thing_asked_for():
    from assistant.verify import relevance_gap

    answer = cited_answer("Key Tools of ModelOps: Deepchecks, Kubeflow", section="Table")
    question = "What license is Kubeflow released under?"
    assert "never mention 'license'" in relevance_gap(question, answer, 0.46, 0.22)
    # Strong evidence may word the thing asked for otherwise ("What steps ..." answered by a procedure).
    assert relevance_gap(question, answer, 0.8, 0.22) == ""


def test_parse_lines_reads_each_items_nesting():
    from assistant.verify import parse_lines

    parsed = parse_lines("Options: [1]\n\n- Standby Sites: [1]\n  - Hot Standby is running. [2]\n- Backups. [1]")
    assert [(text, item >= 0, depth) for text, _, item, depth, _ in parsed] == [
        ("Options:", False, 0), ("Standby Sites:", True, 0), ("Hot Standby is running.", True, 1),
        ("Backups.", True, 0)]


def test_prose_drafted_as_two_paragraphs_stays_two():
    """Two passages' prose (a comparison's two sides) or a model's own paragraph break: the answer shows
    two paragraphs, while the sentences of one line stay one paragraph."""
    from assistant.chain import markdown
    from assistant.types import SentenceCheck
    from assistant.verify import parse_lines

    draft = "Blue runs two copies. [1] One takes traffic. [1]\nCanary goes to a subset. [2]\n\n- Roll back fast. [2]"
    sentences = [SentenceCheck(text=text, citations=numbers, supported=True, score=1.0, bullet=item >= 0, item=item,
                               depth=depth, paragraph=line) for text, numbers, item, depth, line in parse_lines(draft)]
    assert markdown(sentences) == ("Blue runs two copies. [1] One takes traffic. [1]\n\n"
                                   "Canary goes to a subset. [2]\n\n- Roll back fast. [2]")


def test_a_passage_heading_supports_the_label_it_gives_a_sentence():
    """"Section 1: ..." names the section the sentence is quoted from; another section's name does not."""
    checked = verify(f"Section 1: {DEVOPS} [1]", context(DEVOPS), no_vectors)
    assert checked.removed == 0
    elsewhere = Hit(id="x", source="doc.md", title="Doc", section="Tools > Kubeflow Pipelines", text=DEVOPS)
    ctx = Context(Retrieval(question="q", query="q", hits=(elsewhere,)),
                  (Passage(1, elsewhere, (DEVOPS,), np.zeros((1, 4), np.float32)),), np.zeros(4, np.float32))
    assert verify(f"Kubeflow Pipelines: {DEVOPS} [1]", ctx, no_vectors).removed == 0
    assert verify(f"SageMaker Pipelines: {DEVOPS} [1]", ctx, no_vectors).removed == 1
