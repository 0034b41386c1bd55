"""Answer composition: list questions get the list, a lead-in brings its items, a document's own
subject counts for the relevance check. Documents written for the test, on the real model."""

from __future__ import annotations

import pytest

from assistant.domain import DomainProfile
from assistant.grammar import _defines, _defines_side, _title_like, asked_kind, compared_sides, question_parts
from tests.conftest import assistant_with, toy_assistant

RELEASES = """# Release Practice

## Size Guidance

We should always ship releases in small increments. Small releases have several advantages:

* They are quicker to roll back when something breaks.
* They are simpler to test before they go out.
* Fewer teams have to coordinate on each one.

Big releases are sometimes unavoidable, for example when a database migration spans many services.
"""

TRACING = """# Request Tracing

## Why Trace Requests

Tracing follows one request through every service it touches, so a slow call can be found quickly.

## Request Tracing Frameworks and Tools

There are a few tools to trace requests across services. Each of them records spans and shows them on a timeline.

- [Tracewise](https://example.org/tracewise)
- [Spanbook](https://example.org/spanbook)
- [Hopscotch](https://example.org/hopscotch)

## Further Reading

- [A history of tracing](https://example.org/history)
"""


FIELD_GUIDE = """---
title: "Release Trains in Practice"
author: "Ada Quill"
publisher: "Quarterly Ops Review"
---

# Release Trains in Practice

A release train ships whatever is ready on a fixed schedule, so no feature waits for another.
"""

IDENTITY = """# Credentials

## Managed Identity

Managed identities let a service authenticate to other services without any stored password.
The appeal is that nobody has to look after secrets and credentials any more.
They are never checked into source control, and they never need to be rotated by hand.
A managed identity is issued and renewed by the platform for each service that needs one.
Granting a managed identity a role gives its service exactly the access that role allows.
Teams that move to managed identities delete most of their secret handling code.

## Access Keys

Access keys are long-lived strings handed out once, which whoever holds them can use anywhere.
"""

PROCESS = """# Delivery Process

## Goals

- Provide a shared vocabulary for delivery work.
- Provide clarity on the delivery process and how it fits within a project.
- Provide best practices for the different stages of a delivery project.

## Process

The proposed delivery process consists of:

- Discovery workshop
- Risk assessment
- Pilot build
- Hardening and rollout
"""

HURDLES = """# Platform Hurdles

## Hurdles

Teams adopting the platform meet a few hurdles:

- The platform needs clean input records. Records often arrive unlabelled and in odd formats, which breaks the loaders.
- The platform needs a wide range of skills. Few teams have them all in house.
- The platform is costly to run. Small teams feel the bill first.

## Stacks

| Criterion | Stack A | Stack B |
| --- | --- | --- |
| Focus | Batch reporting | Live scoring |
| Key Tools | Airflow, dbt | Kafka, Flink |
| Team | Analysts | Engineers |
"""

RUNBOOKS = """# Runbooks as Code

## Why

- It keeps every runbook step repeatable across environments.
- Changes to runbooks get reviewed like any other code change.
- Old versions can be restored after a bad edit.
- New engineers find the current runbook in the repository.

## How

Store each runbook as a Markdown file next to the service it operates.
"""

TEMPLATE = """# Design Review Template

## Header

Authors: [Author1, Author2, etc.]

Reviewers: [Reviewer1, Reviewer2]
"""

LINTING = """# Inclusive Language

## Getting Started with a Word Linter

The team picked one checker after a long trial. The one we settled on is Tidyword.
It is a language-agnostic command-line tool that flags non-inclusive words in source code and suggests alternatives.
"""

FAULTS = """# Fault Injection

## Key Testing Categories

### Chaos Testing

Chaos testing or chaos engineering is the practice of experimenting on a system to build confidence that the system can withstand turbulent conditions in production.
Its goal is to identify weaknesses before they manifest system wide.

## Fault Injection Frameworks and Tools

### Chaos

- Stormcell - An in-preview service for orchestrating fault experiments on cloud resources.
- Quakebox - A declarative, modular chaos platform with many extensions.
- Tremor - A cluster-specific chaos tool, maintained by a hosting vendor.
- Gremlinette - The platform that popularised chaos engineering.
- Shakeup - A library for chaos testing integrated with a resilience library.
- Rumble - An open source tool for chaos testing of container clusters.
"""


# A list longer than one chunk (chunk_max_words 250): its third item opens the section's next chunk.
PITFALLS = """# Fixture Hygiene

## Things to Steer Clear Of

Some habits that make integration fixtures brittle and should be steered clear of:

- Shared databases - A fixture that writes into a database other suites also use will see rows it never
  created. One suite's leftovers then change another suite's results, and the failure moves around from
  run to run depending on the order the suites happen to start in. Nobody can reproduce it on a laptop,
  because a laptop runs one suite at a time, so the team learns to rerun the pipeline instead of fixing
  it. Over a few months the reruns cost more build minutes than the database would have cost to clone.
- Wall-clock waits - A fixture that waits a fixed number of seconds for a service to come up is either
  too slow on a fast agent or too short on a busy one. The waits add up across hundreds of cases, so a
  suite that should finish in two minutes takes twenty, and a busy agent still fails now and then when
  the service takes a little longer than the wait allows. Poll for readiness with a deadline instead,
  and log how long the service actually took so the deadline can be tuned from evidence.
- Hand-edited snapshots - Integration fixtures that load golden files edited by hand are brittle too:
  the files drift from what the code really produces. A reviewer
  cannot tell a deliberate change from an accident, so regressions get approved along with the edits,
  and the snapshot stops guarding anything at all. Regenerate snapshots with the tool that wrote them and
  review the diff like any other change, with the command that produced it recorded in the commit.
"""


# A why-question whose reasons are a list of advantages, beside a list describing the same thing's parts.
ERRORS = """# Error Types

## Custom Errors

Although the runtime ships many error types, teams often need their own error types for clean handling.
The advantages of using custom error types are -

- Name failures in the language of the business domain.
- Keep the code base independent of one storage vendor's error classes.
- Carry the data context of the failure, such as the record that failed.

## Custom Error Hierarchy

- It defines a BaseError type, built on the built-in Error type, as the parent of all custom error types.
- Defines a number of system error types that derive from SystemError.
- Defines a number of business error types that derive from BusinessError.
"""


# A paragraph whose last sentence is about the document, not the argument.
TRAINS = """# Release Trains

## Adopting a Release Train

A team ships on a release train when several services must go out together. Each team keeps its own
cadence inside the train and joins the next departure. This article will provide an overview of the
train's stages, roles and tooling for the teams that join it.
"""


# A list item whose reason is its second sentence, while its example (the fourth) matches best.
ETIQUETTE = """# Review Etiquette

## Guidelines for Authors

- Keep each pull request focused on a single change. Reviewing many modules at once ends in a shallow,
  unequal review. Reviewers then skim the parts they know. For example, a sweeping pull request from a
  senior author may pass with a glance while the same one from a newcomer waits weeks.
- Write a description that says why the change is needed.
- Link the work item the change belongs to.
"""

# A "when" question whose condition ("... skipped if ...") is not the sentence most like the question.
SPIKES = """# Design Spikes

## Running a Spike

Time box a design spike so that the team avoids investing too much effort in any one option. Pick two to
four candidate options worth investigating.

## When to Use

Spikes help throughout the project as new decision points appear. A design spike should be avoided if the
team already knows the answer. Each spike takes days of effort from two engineers.
"""

# A choice question: the sentence recommending one option scores below a list about the other.
CONFIG_SECRETS = """# Config Secrets

## Approaches

Teams need a safe way to handle secrets in a configuration repository. There are two ways:

- Encrypted secrets in the configuration repository
- References to secrets kept in an external vault

In short: referencing secrets in an external vault is the recommended approach. It makes rotation easier and
scales to many clusters.

## Encrypted Secrets

All the encryption tools share the following:

- Secret changes are made in the configuration repository, which gives full traceability.
- Encrypted secrets can be rotated by changing the repository, without touching the cluster.
- Encrypted secrets in the repository work in fully disconnected setups.
"""

# Two lists about the same numbers; the question names three members, which only the second names all of.
NUMBERS = """# Component Numbers

## Interface Changes

Updating the major or minor number of a component signals a change to its interface:

- Major number: a breaking change
- Minor number: a compatible minor change
- Build number: no interface change, only a new build

## Numbering Rules

Given a component number, increase it based on the following rules:

- Major number when you make incompatible interface changes,
- Minor number when you add features in a compatible manner, and
- Patch number when you make compatible bug fixes.
"""

@pytest.fixture(scope="module")
def composed(tmp_path_factory, embedder):
    return assistant_with(tmp_path_factory.mktemp("composed"), embedder,
                          {"releases.md": RELEASES, "tracing.md": TRACING, "field-guide.md": FIELD_GUIDE,
                           "template.md": TEMPLATE, "identity.md": IDENTITY, "process.md": PROCESS,
                           "hurdles.md": HURDLES, "runbooks.md": RUNBOOKS,
                           "fixtures.md": PITFALLS, "errors.md": ERRORS,
                           "trains.md": TRAINS, "etiquette.md": ETIQUETTE, "spikes.md": SPIKES,
                           "config-secrets.md": CONFIG_SECRETS, "numbers.md": NUMBERS})


@pytest.fixture(scope="module")
def tooling(tmp_path_factory, embedder):
    """Two documents alone: which passages compete decides which path answers a set question."""
    return assistant_with(tmp_path_factory.mktemp("tooling"), embedder, {"linting.md": LINTING, "faults.md": FAULTS})


@pytest.mark.parametrize("question, kind", [
    ("Which linters and formatters are recommended?", "linter"),
    ("What are the main components of a log stack?", "compon"),
    ("What kinds of software should we remove from images?", ""),
    ("What kinds of failover sites does the guidance describe?", "site"),  # a set of sites
    ("What types of Kubernetes tools are there?", "tool"),
    ("What tools can we use for tracing?", "tool"),
    ("Which GitOps tools suit Kubernetes?", "tool"),  # "GitOps" is a name, not the plural asked for
    ("What makes a staging environment production-like?", None),
    ("What is a span?", None),
    ("How do we keep releases small?", None),
    # The question asked is the last sentence or clause, after a statement of context.
    ("We need customer data. Instead of working on production data, what approaches should we use?", "approach"),
    ("A bad deployment hammered our services. Which patterns protect against that?", "pattern"),
    ("Our pipeline, which runs tests nightly, fails?", None),  # a relative clause asks nothing
    ("If we add a service mesh, which metrics do we get for free?", "metric"),  # "which" + noun + auxiliary
    ("We run a job, which runs nightly?", None),
    ("Direct-write vs agent-based logging: what are the trade-offs?", None),  # about the two sides, no set
    # A name with digits is one word ("E2E" is no "E" that passed for part of an auxiliary), and the words
    # that end the search are whole auxiliaries ("make"), not letters of one.
    ("Which E2E frameworks or tools does the playbook put forward?", "framework"),
    ("Which K8s operators are named?", "oper"),
    ("What make teams adopt trunk-based branches?", None),
    # The noun phrase's head is its last word ("chaos" only looks plural); a slash parts two phrases.
    ("Which chaos engineering tools does the testing guidance list?", "tool"),
    ("Which linters / static analysis tools does the playbook use?", "linter"),
])
def test_asked_kind_reads_the_plural_noun_asked_for(question, kind):
    assert asked_kind(question) == kind


@pytest.mark.slow
def test_a_reason_question_brings_the_list_its_answer_introduces(composed):
    answer = composed.ask("Why should we ship releases in small increments?")
    assert not answer.refused
    assert "Small releases have several advantages:" in answer.text
    for reason in ("quicker to roll back", "simpler to test", "Fewer teams"):
        assert reason in answer.text
    assert "\n- They are quicker to roll back" in answer.text  # a list, item by item


@pytest.mark.slow
def test_a_tools_question_gets_the_introduced_link_list(composed):
    answer = composed.ask("Which tools can we use to trace requests across our services?")
    assert not answer.refused
    for tool in ("Tracewise", "Spanbook", "Hopscotch"):
        assert f"- {tool} [" in answer.text
    assert "history of tracing" not in answer.text  # a reading list is no answer


@pytest.mark.parametrize("question, term", [
    ("Tell me about code reviews.", "code reviews"), ("Explain GitOps", "GitOps"),
    ("What does the playbook say about dev containers?", "dev containers"),
    ("Describe the on-call rotation.", "on-call rotation"), ("Can you explain why tests matter?", None),
    ("What does the playbook say about testing, and why?", None),
])
def test_a_question_about_a_topic_as_a_whole_names_the_term(question, term):
    from assistant.grammar import _TOPIC

    match = _TOPIC.match(question)
    assert (match.group(1) if match else None) == term


def lift(assistant, question: str, opening: str, **zeroed: float) -> float:
    """How much the unit that starts with `opening` gains from the weights named in `zeroed` (each set to 0
    for the second scoring of the same passages)."""
    from dataclasses import replace

    from assistant.chain import ChainState

    answerer = assistant.chain.answerer
    state = assistant.chain.steps.invoke(ChainState(question=question, history=()))
    kept, scores = answerer.w, []
    try:
        for weights in (kept, replace(kept, **zeroed)):
            answerer.w = weights
            scores.append(next(s[0] for s in answerer.score_units(question, state.context) if s[4].startswith(opening)))
    finally:
        answerer.w = kept
    return scores[0] - scores[1]


def test_a_topic_question_scores_what_the_topic_is_as_a_definition_question_does(tmp_path):
    """"Tell me about canary releases." is answered, like "What is a canary release?", by what one is first:
    the sentence saying so gets the same lift."""
    from assistant.scoring import ExtractiveWeights
    from tests.conftest import toy_assistant

    assistant = toy_assistant(tmp_path, {"canary.md": (
        "# Rollouts\n\n## Canary Rollout\n\nCanary releases need a watch of an hour on the dashboards.\n\n"
        "## Basics\n\nA canary release is a deployment that sends a small share of traffic to the new version.\n")})
    opening, defines = "A canary release is", ExtractiveWeights().defines
    assert lift(assistant, "Tell me about canary releases.", opening, defines=0.0, titled=0.0) == pytest.approx(defines)
    assert lift(assistant, "What are canary releases?", opening, defines=0.0, titled=0.0) == pytest.approx(defines)
    assert lift(assistant, "How are canary releases watched?", opening, defines=0.0, titled=0.0) == 0.0


@pytest.mark.parametrize("question, kind", [
    ("list the branching strategies the playbook mentions", "strategi"), ("Name three tools for load testing", "tool"),
    ("Show me the steps", "step"), ("Give me an overview of GitOps", None), ("List them", None),
])
def test_a_set_asked_for_by_a_command_has_its_kind(question, kind):
    assert asked_kind(question) == kind


def test_a_version_question_asks_for_a_number():
    from assistant.domain import DomainProfile

    asks = DomainProfile().asks_quantity.search
    assert asks("Which Terraform version introduced the moved block?")
    assert asks("Which Kubeflow release added Pipelines?")
    assert not asks("Which version control system do we use?")
    assert not asks("What versioning scheme should we follow?")
    assert asks("What is the recommended Kubernetes version for running the operator?")  # further on
    assert not asks("Which practices keep our releases safe?")
    assert not asks("What does the guide say about semantic version control?")
    # A maximum or minimum asks for a number too, not for the guidance around it.
    assert asks("What is the maximum number of reviewers allowed on a pull request?")
    assert asks("What's the minimum size of a load test?")
    assert not asks("How do we maximize the number of reviewers?")
    # A kind of release is a term to define, not a version to name.
    assert not asks("What is canary release?") and not asks("What are blue-green releases?")
    assert asks("What Terraform version does the playbook pin?")
    # A clause setting the scene may come first; a "how" that asks no amount is no quantity question.
    assert asks("In the blog post, how many data scientists does a team need?")
    assert asks("For the CD setup, how much do the per-user licences cost?")
    assert not asks("What is MLOps, and how does it differ from DevOps?")
    # "release" naming the kind of technique asked for is no release to number.
    assert not asks("What release techniques does the guidance cover for reducing downtime?")
    assert not asks("Which release strategies suit a mobile app?")
    assert asks("Which release added the moved block?")


@pytest.mark.slow
def test_a_short_question_that_stands_alone_is_not_bent_to_the_last_turn(composed):
    answer = composed.ask("Who wrote the article?", history=["Which companies used MLOps?"])
    assert not answer.refused and "Tonye Harry" in answer.text  # the front matter card, not Merck
    fragment = composed.ask("Challenges?", history=["What is MLOps?"])
    assert not fragment.refused and "MLOps" in fragment.text  # a fragment still borrows the subject


@pytest.mark.slow
def test_who_wrote_a_document_is_answered_from_its_front_matter(composed):
    answer = composed.ask("Who wrote the piece on release trains?")
    assert not answer.refused and "Ada Quill" in answer.text
    assert "[Author1" not in answer.text  # a template's blanks name no one
    cited = [c for c in answer.citations if "Ada Quill" in c.text]
    assert cited and cited[0].title == "Release Trains in Practice" and cited[0].section == "About this document"


@pytest.mark.slow
def test_the_direct_answer_brings_the_rest_of_its_paragraph(composed):
    answer = composed.ask("Why should a service use a managed identity instead of access keys?")
    assert not answer.refused
    # The reasons follow the definition in the same paragraph, though their words match the question less.
    assert "source control" in answer.text and "rotated" in answer.text
    lines = answer.text.split("[1]")
    assert lines[0].strip().startswith("Managed identities let a service")  # the direct answer leads


@pytest.mark.slow
def test_a_set_question_matching_a_lead_in_gets_its_list(composed):
    answer = composed.ask("What are the stages of the proposed delivery process?")
    assert not answer.refused
    for phase in ("Discovery workshop", "Risk assessment", "Pilot build", "Hardening and rollout"):
        assert f"- {phase} [" in answer.text
    assert "best practices" not in answer.text  # not the goals list that merely says "stages"


@pytest.mark.parametrize("question, sides", [
    ("Blue-green vs canary releases: how do they differ?", ({"blue", "green"}, {"canari"})),
    ("Top-down vs bottom-up integration testing: what's the difference?", ({"top"}, {"bottom"})),
    ("What's the difference between a mock and a fake?", ({"mock"}, {"fake"})),
    ("How is shadow testing different from dark launching?", ({"shadow", "test"}, {"dark", "launch"})),
    ("Should we track model metrics in MLFlow or TensorBoard? How do they compare?", ({"mlflow"}, {"tensorboard"})),
    ("When should I use metrics and when should I use logs?", None),
    ("How do managed identities compare with access keys?", ({"manag", "ident"}, {"access", "key"})),
    ("Is it a bug or a feature?", None),
])
def test_compared_sides_are_read_from_the_grammar(question, sides):
    got = compared_sides(question)
    assert (got and (set(got[0]), set(got[1]))) == sides if sides else got is None


@pytest.mark.slow
def test_a_comparison_answers_for_both_sides(composed):
    answer = composed.ask("How do managed identities compare with access keys?")
    assert not answer.refused
    assert "Managed identities let a service" in answer.text
    assert "Access keys are long-lived strings" in answer.text  # the side whose words match less still comes


@pytest.mark.parametrize("unit, title", [
    ("Pull Request Template", True),
    ("MLOps vs. DevOps", True),
    ("Write good commit messages.", False),
    ("Flux is a tool created by Weaveworks", False),
    ("Model Governance: ModelOps manages the whole lifecycle of models.", False),
])
def test_a_title_standing_alone_is_told_from_a_statement(unit, title):
    assert _title_like(unit) is title


@pytest.mark.slow
def test_a_list_item_brings_its_sentence_that_answers(composed):
    answer = composed.ask("Which hurdles do teams meet, and what is wrong with the input records?")
    assert not answer.refused
    assert "- The platform needs clean input records." in answer.text  # the list ...
    assert "arrive unlabelled and in odd formats" in answer.text  # ... with the item's sentence that answers


@pytest.mark.slow
def test_a_table_question_naming_a_criterion_gets_that_criterion(composed):
    answer = composed.ask("What is the focus of Stack A and Stack B according to the table?")
    assert not answer.refused
    assert "Batch reporting" in answer.text and "Live scoring" in answer.text
    assert "Airflow" not in answer.text and "Analysts" not in answer.text  # not the other criteria


OPS_TABLE = """# Choosing an Approach

## ModelOps

### Benefits

As its importance grows, more and more organisations see the value of bringing ModelOps strategies and tools into their daily workflows.

- ModelOps speeds up model deployment by automating many steps.

## Comparison

| Criterion | DevOps | ModelOps |
| --- | --- | --- |
| Focus | Delivery of software | Governance of models |
| Key Tools | Jenkins, Ansible | Deepchecks, Seldon |
"""


@pytest.mark.slow
def test_a_cell_whose_row_and_column_are_asked_leads_the_answer(tmp_path_factory, embedder):
    """"Which tooling ... with ModelOps?" names the row (a subject) and the column (Key Tools, by its
    noun): that cell is the direct answer, ahead of a sentence that merely mentions ModelOps and tools."""
    ops = assistant_with(tmp_path_factory.mktemp("ops"), embedder, {"ops.md": OPS_TABLE})
    answer = ops.ask("Which tooling does the comparison associate with ModelOps?")
    assert answer.text.startswith("- Key Tools of ModelOps: Deepchecks, Seldon"), answer.text  # cells read one a line


@pytest.mark.slow
def test_a_why_question_gets_the_list_of_its_why_section(composed):
    answer = composed.ask("Why should runbooks be kept as code?")
    assert not answer.refused
    for reason in ("repeatable across environments", "get reviewed", "can be restored", "find the current runbook"):
        assert reason in answer.text


@pytest.mark.parametrize("unit, term, defines", [
    ("ModelOps is a methodology that manages models.", ["modelop"], True),
    ("DataOps, on the other hand, is focused on the data pipeline.", ["dataop"], True),
    ("A span is the smallest unit in a trace.", ["span"], True),
    ("DevOps and DataOps are two approaches.", ["dataop"], False),  # names it, says what both are
    ("ModelOps enables faster model development.", ["modelop"], False),  # says what it does, not is
])
def test_a_definition_is_told_from_a_mention(unit, term, defines):
    assert _defines(unit, term) is defines


@pytest.mark.slow
def test_a_sentence_opening_with_a_pronoun_comes_with_the_sentence_naming_its_subject(tooling):
    answer = tooling.ask("Is there a command-line tool that flags non-inclusive words in source code?")
    assert not answer.refused
    assert "The one we settled on is Tidyword. [1] It is a language-agnostic" in answer.text


@pytest.mark.slow
def test_a_set_question_gets_every_item_of_the_list_its_heading_names(tooling):
    # The best match is another passage's definition, so the tools come as items competing with it.
    answer = tooling.ask("Which chaos engineering tools does the testing guidance list?")
    assert not answer.refused
    for tool in ("Stormcell", "Quakebox", "Tremor", "Gremlinette", "Shakeup", "Rumble"):
        assert f"- {tool} - " in answer.text, answer.text


def test_a_set_question_is_led_by_the_sentence_naming_the_members():
    """The list of what the tools share outranks the sentence naming them (it did on the playbook's
    GitOps secrets page); that sentence still leads. Names the question or the corpus' subjects
    already use are no members."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Some popular tools for this approach are Sealwrap Secrets, Mozzy Crypt",
             "All the secret encryption tools share the following:",
             "Secret changes are managed in the repository", "They support disconnected scenarios",
             "Tools such as MLOps or ModelOps platforms also exist"]
    scored = sorted([(1.07, 0.79, 1, 0, units[0]), (0.76, 0.78, 1, 1, units[1]), (1.24, 0.81, 1, 2, units[2]),
                     (1.27, 0.84, 1, 3, units[3]), (1.20, 0.80, 1, 4, units[4])], key=lambda u: -u[0])
    context = SimpleNamespace(passages=[SimpleNamespace(n=1, items=(-1, -1, 0, 1, -1))])
    question = "What tools can we use to commit encrypted secrets to our GitOps repo?"
    answerer = ExtractiveAnswerer()
    picked = [scored[0], scored[1]]
    led = answerer.enumeration_first(question, scored, picked, "tool", context)
    assert [u[4] for u in led] == [units[0], units[3], units[2]]
    too_far = [(s + 0.5 if s > 1.1 else s, *rest) for s, *rest in scored]  # far behind the best: not the answer
    assert answerer.enumeration_first(question, too_far, picked, "tool", context) == picked
    only_subjects = [u for u in scored if u[3] != 0]
    assert answerer.enumeration_first(question, only_subjects, picked, "tool", context) == picked
    # Named in a passage ranked below the best unit's, the tools are for something else: "Which tools detect
    # secrets committed to our repo?" is best answered by the scanning passage, not the encryption one.
    elsewhere = [(s, sim, 2 if pos == 0 else 1, pos, u) for s, sim, _, pos, u in scored]
    context.passages.append(SimpleNamespace(n=2, items=(-1,)))
    assert answerer.enumeration_first(question, elsewhere, picked, "tool", context) == picked



@pytest.mark.parametrize("sentence, lists", [
    # Common nouns right after the kind asked for are its members ...
    ("Tracing has many use cases, from latency analysis and error triage to capacity planning and cost "
     "attribution.", True),
    ("Teams pick approaches such as blue-green, canary releases, dark launches and feature flags.", True),
    # ... but not a range that starts on a number, nor nouns that follow another word.
    ("Plan the use cases from Day 1 to ensure coverage, security, privacy and transparency.", False),
    ("A secret store keeps credentials (like API keys, tokens, passwords and certificates) for use cases.", False),
    ("Tracing helps with use cases, from the moment a request arrives to the moment it is answered.", False),
])
def test_a_sentence_enumerating_the_kind_asked_for_lists_its_members(sentence, lists):
    from assistant.extractive import ExtractiveAnswerer

    kind = "approach" if "approaches" in sentence else "case"
    assert ExtractiveAnswerer().lists_members(sentence, set(), kind) is lists


RECOVERY = """# Site Recovery

## Recovery Options

Recovering a service after a regional outage can take several forms. Here are some examples:

- **Offsite Backups**: Keep copies of every database in a second region, restored nightly.
- **Standby Sites**:
  - **Hot Standby**: A fully running duplicate of production that takes over within minutes.
  - **Warm Standby**: Machines provisioned but idle, started and synced when needed.
  - **Cold Standby**: Rack space and network only, built from backups over days.
- **Replicated Queues**: Mirror every message queue to the second region continuously.
"""


@pytest.fixture(scope="module")
def recovery(tmp_path_factory, embedder):
    return assistant_with(tmp_path_factory.mktemp("recovery"), embedder, {"recovery.md": RECOVERY})


@pytest.mark.slow
def test_a_label_item_brings_its_sub_list_shown_nested(recovery):
    """"- Standby Sites:" says nothing alone: its sub-items come with it, indented under it, in the
    Markdown and in the verified sentences (depth 1)."""
    answer = recovery.ask("What standby site options are there for recovering from a regional outage?")
    assert not answer.refused
    for name in ("Hot Standby", "Warm Standby", "Cold Standby"):
        assert f"\n  - {name}: " in answer.text, answer.text
    assert "- Standby Sites: [1]\n  - Hot Standby" in answer.text
    depths = {s.text.split(":")[0]: s.depth for s in answer.sentences if s.bullet}
    assert depths["Standby Sites"] == 0 and depths["Hot Standby"] == depths["Cold Standby"] == 1


def test_sub_items_come_with_a_label_or_an_item_leading_into_them():
    from assistant.extractive import ExtractiveAnswerer

    units = ["Standby Sites:", "Hot Standby: a running duplicate.", "Cold Standby: rack space only.",
             "Harden the images before they ship. Avoid installing these tools:", "Shells: sh, bash.",
             "Replicated Queues: mirror every queue."]
    items, depth = (0, 1, 2, 3, 4, 5), (0, 1, 1, 0, 1, 0)
    by_pos = {(1, i): (1.0, 0.5, 1, i, u) for i, u in enumerate(units)}
    answerer = ExtractiveAnswerer()
    assert [u[4] for u in answerer.sub_items(by_pos[1, 0], items, depth, by_pos)] == units[1:3]
    assert [u[4] for u in answerer.sub_items(by_pos[1, 3], items, depth, by_pos)] == [units[4]]
    assert answerer.sub_items(by_pos[1, 5], items, depth, by_pos) == []  # a statement, no sub-list
    assert answerer.sub_items(by_pos[1, 1], items, depth, by_pos) == []  # a sub-item leads nothing


def test_a_lead_in_its_paragraph_brings_is_not_quoted_twice():
    """The best sentence's paragraph goes on into a lead-in, which comes with its list; that lead-in also
    scores within the margin on its own, and was quoted a second time."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Synthetic probes do not replace real user monitoring.", "Probes are predictable code that check fixed scenarios.",
             "On the other hand, avoid relying on real user monitoring alone because:", "It needs user traffic.",
             "Traffic patterns are inconsistent."]
    items = (-1, -1, -1, 0, 1)
    scores = (0.92, 1.05, 1.04, 0.88, 0.97)
    scored = sorted([(s, s - 0.3, 1, i, u) for i, (s, u) in enumerate(zip(scores, units))], key=lambda u: -u[0])
    passage = SimpleNamespace(n=1, items=items, depths=(0,) * 5, unit_vectors=None,
                              hit=SimpleNamespace(kind="list", section="Monitoring"))
    context = SimpleNamespace(passages=[passage], part_vectors=(), part_questions=(), scene=None,
                              retrieval=SimpleNamespace(query="Why not rely on real user monitoring alone?"))
    picked = ExtractiveAnswerer().select(scored, context, wants_quantity=False)
    texts = [u[4] for u in picked]
    assert len(texts) == len(set(texts)), texts
    assert texts.index(units[2]) < texts.index(units[3])  # the lead-in, then its items


def test_an_items_first_sentence_that_says_little_brings_the_next():
    """"Alert fatigue is real." adds one word to the question; what the item says is its next sentence."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Alert fatigue is real.", "Tune thresholds so that every alert needs an action.",
             "Route low urgency alerts to a secondary channel.", "Page only for user impact."]
    items, scores = (0, 0, 1, 1), (1.2, 0.7, 0.75, 0.6)
    scored = sorted([(s, s - 0.3, 1, i, u) for i, (s, u) in enumerate(zip(scores, units))], key=lambda u: -u[0])
    passage = SimpleNamespace(n=1, items=items, depths=(0,) * 4, unit_vectors=None,
                              hit=SimpleNamespace(kind="list", section="Alerting"))
    retrieval = SimpleNamespace(query="How should we handle alert fatigue?")
    context = SimpleNamespace(passages=[passage], part_vectors=(), part_questions=(), scene=None, retrieval=retrieval)
    picked = [u[4] for u in ExtractiveAnswerer().select(scored, context, wants_quantity=False)]
    assert picked[:2] == units[:2], picked
    # A first sentence that says something of its own is the item's point.
    scored = [(s, sim, n, pos, "Alert fatigue burns out the on-call engineers." if pos == 0 else u)
              for s, sim, n, pos, u in scored]
    picked = [u[4] for u in ExtractiveAnswerer().select(scored, context, wants_quantity=False)]
    assert units[1] not in picked, picked


def test_a_sub_item_comes_with_the_item_it_belongs_to():
    """"Ideal for dynamic user interfaces." says nothing without "React", the item it sits under."""
    from assistant.extractive import ExtractiveAnswerer

    units = ["Frameworks to consider:", "Plain HTML", "Back to the basics.", "React", "Reusable components.",
             "Ideal for dynamic user interfaces.", "Angular", "Built-in routing."]
    items, depth = (-1, 0, 1, 2, 3, 4, 5, 6), (0, 0, 1, 0, 1, 1, 0, 1)
    by_pos = {(1, i): (1.0, 0.5, 1, i, u) for i, u in enumerate(units)}
    picked = [by_pos[1, 5], by_pos[1, 2], by_pos[1, 6], by_pos[1, 7]]
    out = ExtractiveAnswerer().with_parents(picked, by_pos, {1: items}, {1: depth})
    assert [u[4] for u in out] == ["React", "Ideal for dynamic user interfaces.", "Plain HTML", "Back to the basics.",
                                   "Angular", "Built-in routing."]


def test_a_heading_alone_is_no_point_but_its_list_still_brings_it():
    """"MLOps vs. DevOps" (a sub-section heading read as a lead-in's item) scores near the best sentence
    for "How does it differ?": alone it says nothing, so it is not picked; a lead-in picked for a set
    still brings its items, headings or not."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Batch jobs run nightly while streams run continuously.", "Streams keep a state store.",
             "Note these differences:", "Batch vs. Stream", "Stream vs. Queue"]
    items, scores = (-1, -1, -1, 0, 1), (1.2, 0.9, 0.7, 1.1, 0.8)
    scored = sorted([(s, s - 0.3, 1, i, u) for i, (s, u) in enumerate(zip(scores, units))], key=lambda u: -u[0])
    passage = SimpleNamespace(n=1, items=items, depths=(0,) * 5, unit_vectors=None,
                              hit=SimpleNamespace(kind="list", section="Processing"))
    context = SimpleNamespace(passages=[passage], part_vectors=(), part_questions=(), scene=None, retrieval=SimpleNamespace(query="How do they differ?"))
    picked = [u[4] for u in ExtractiveAnswerer().select(scored, context, wants_quantity=False)]
    assert "Batch vs. Stream" not in picked and units[0] in picked, picked
    led = [u[4] for u in ExtractiveAnswerer().select([(1.3, 1.0, 1, 2, units[2])] + scored, context, wants_quantity=False)]
    assert led[:3] == ["Note these differences:", "Batch vs. Stream", "Stream vs. Queue"], led


def test_a_sub_item_matched_for_the_set_the_outer_lead_in_names_answers_with_the_outer_list():
    """"What details should we add to a bug?": the best match is a sub-item of "- Priority:"; the set asked
    for is the outer list, whose lead-in names details."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Add the following details to each bug:", "Title.", "Steps to Reproduce.", "Priority:",
             "1: Must not ship without a fix.", "2: Fix when there is time."]
    items, depth = (-1, 0, 1, 2, 3, 4), (0, 0, 0, 0, 1, 1)
    scores = (0.75, 0.8, 0.79, 0.78, 0.9, 1.0)
    scored = sorted([(s, s - 0.3, 1, i, u) for i, (s, u) in enumerate(zip(scores, units))], key=lambda u: -u[0])
    passage = SimpleNamespace(n=1, units=units, items=items, depths=depth, 
                              hit=SimpleNamespace(section="Bugs", source="bugs.md", start=0, end=90))
    context = SimpleNamespace(passages=[passage])
    answerer = ExtractiveAnswerer()
    outer = [u[4] for u in answerer.list_answer(scored, context, kind="detail")]
    assert outer[:4] == ["Add the following details to each bug:", "Title.", "Steps to Reproduce.", "Priority:"], outer
    assert "2: Fix when there is time." in outer  # the label brings its sub-items
    inner = [u[4] for u in answerer.list_answer(scored, context, kind="level")]
    assert inner == ["Priority:", "1: Must not ship without a fix.", "2: Fix when there is time."], inner  # not named



@pytest.mark.parametrize("after, comes", [
    ("Other hurdles include flaky agents and slow reviews.", True),  # adds to the set its lead-in names
    ("Other teams solved this with a rota.", False),  # "other", but not more of the hurdles
    ("Hurdles like these fade once the pipeline is stable.", False),  # about the set, adds nothing
])
def test_the_sentence_after_a_list_that_adds_to_its_set_comes_with_it(after, comes):
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Some of the key hurdles of release trains include:", "Long queues.", "Merge storms.",
             "Stale branches.", after]
    items = (-1, 0, 1, 2, -1)
    scored = sorted([(s, s - 0.3, 1, i, u) for i, (s, u) in enumerate(zip((0.7, 0.9, 0.85, 0.8, 0.5), units))],
                    key=lambda u: -u[0])
    passage = SimpleNamespace(n=1, units=units, items=items, depths=(0,) * 5,
                              hit=SimpleNamespace(section="Hurdles", source="trains.md", start=0, end=120))
    listed = [u[4] for u in ExtractiveAnswerer().list_answer(scored, SimpleNamespace(passages=[passage]), kind="hurdl")]
    assert listed[:4] == units[:4], listed
    assert (after in listed) is comes, listed


def test_a_second_lead_in_adding_to_the_set_brings_its_list():
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Recipes and Scenarios:", "detect-secrets finds secrets in a code base.", "Use it inside a pipeline.",
             "Additional Tools:", "CodeQL lets you query code as data.", "Git-secrets blocks committed passwords.",
             "Other projects pick their own."]
    items = (-1, 0, 1, -1, 3, 4, -1)
    # "Additional Tools:" is too short to be scored on its own (a label is no answer alone).
    scored = sorted([(s, s - 0.3, 1, i, units[i]) for i, s in ((0, 0.7), (1, 0.9), (2, 0.85), (4, 0.6), (5, 0.6),
                                                              (6, 0.3))], key=lambda u: -u[0])
    passage = SimpleNamespace(n=1, units=units, items=items, depths=(0,) * 7,
                              hit=SimpleNamespace(section="Tools", source="scan.md", start=0, end=200))
    listed = [u[4] for u in ExtractiveAnswerer().list_answer(scored, SimpleNamespace(passages=[passage]), kind="tool")]
    assert listed == units[:6], listed
    # A lead-in adding nothing of the set asked for ("Additional Notes:") stays out.
    notes = [u if u != "Additional Tools:" else "Additional Notes:" for u in units]
    passage.units = notes
    scored = [(s, v, n, i, notes[i]) for s, v, n, i, _ in scored]
    listed = [u[4] for u in ExtractiveAnswerer().list_answer(scored, SimpleNamespace(passages=[passage]), kind="tool")]
    assert listed == units[:3], listed

def test_a_list_whose_lead_in_names_the_set_asked_for_answers_when_it_ties_with_another():
    """"The scope doesn't fit. What options do we have?": the t-shirt sizing list matches as well as the
    one its lead-in calls the options; that one is the answer. Far behind, it is not."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    sizing = ["The team uses t-shirt sizes for the scope.", "Small fits a sprint.", "Large is split."]
    options = ["Based on your capacity, you now have the options:", "Ask for more people.",
               "Reduce the scope to the MVP.", "Ask for more time."]
    first = SimpleNamespace(n=1, units=sizing, items=(0, 1, 2), depths=(0,) * 3,
                            hit=SimpleNamespace(section="Estimates", source="plan.md", start=0, end=90))
    second = SimpleNamespace(n=2, units=options, items=(-1, 0, 1, 2), depths=(0,) * 4,
                             hit=SimpleNamespace(section="Approach", source="plan.md", start=100, end=200))
    question = SimpleNamespace(query="Our capacity does not fit the scope. What options do we have?")
    context = SimpleNamespace(passages=[first, second], retrieval=question)

    def answer(gap: float, lead: str = options[0]) -> list[str]:
        second.units = [lead, *options[1:]]
        scored = [(0.64, 0.5, 1, 0, sizing[0]), (0.64 - gap, 0.47, 2, 2, options[2]), (0.6, 0.48, 1, 1, sizing[1]),
                  (0.58, 0.45, 1, 2, sizing[2]), (0.47, 0.28, 2, 0, lead), (0.4, 0.3, 2, 1, options[1]),
                  (0.4, 0.3, 2, 3, options[3])]
        return [u[4] for u in ExtractiveAnswerer().list_answer(scored, context, kind="option")]

    assert answer(0.01) == options
    assert answer(0.2)[0] == sizing[0]
    # "Some other options may be:" names the set, but for nothing the question asks about.
    assert answer(0.01, "Some other options may be:")[0] == sizing[0]


def test_items_labelled_as_the_set_asked_for_come_together_under_their_parent():
    """"What kinds of failover sites ...?": one picked "Hot Site: ..." item brings its siblings whose
    labels name a site, after their parent label; an unlabelled sibling and other lists stay out."""
    from assistant.extractive import ExtractiveAnswerer

    units = ["Cloud Backups: copies in the cloud.", "Failover and Redundancy:", "Hot Site: a running duplicate.",
             "Cold Site: rack space only.", "Site notes are kept elsewhere.", "Warm Site: partly prepared.",
             "VM Snapshots: taken nightly."]
    items, depth = (0, 1, 2, 3, 4, 5, 6), (0, 0, 1, 1, 1, 1, 0)
    by_pos = {(1, i): (1.0, 0.5, 1, i, u) for i, u in enumerate(units)}
    picked = [by_pos[1, 0], by_pos[1, 3]]
    ExtractiveAnswerer.labelled_set(picked, by_pos, {1: items}, {1: depth}, "site")
    assert [u[4] for u in picked] == [units[0], units[1], units[2], units[3], units[5]]
    alone = [by_pos[1, 6]]
    ExtractiveAnswerer.labelled_set(alone, by_pos, {1: items}, {1: depth}, "site")
    assert alone == [by_pos[1, 6]]  # "VM Snapshots" is no site


def test_a_set_question_gets_the_list_whose_heading_names_the_set():
    """"Which dependency scanning tools ...": a practices list matched best ("Dependency Scanning -
    search for vulnerabilities ..."), but the list under "Dependency Scanning Frameworks and Tools"
    is the set asked for. A heading sharing only one more word names a neighbouring set as often."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    practices = SimpleNamespace(n=1, hit=SimpleNamespace(section="Security > Practices"), items=(0, 1),
                                depths=(0, 0), units=("Dependency Scanning - search for known flaws.", "Code Review."))
    tools = SimpleNamespace(n=2, hit=SimpleNamespace(section="Dependency Scanning Frameworks and Tools"),
                            items=(-1, 0, 1, 2), depths=(0, 0, 0, 0),
                            units=("These tools are used:", "Trivy - a scanner.", "Grype - a scanner.", "Snyk."))
    scored = sorted([(1.25, 0.75, 1, 0, practices.units[0]), (0.70, 0.4, 1, 1, practices.units[1]),
                     (0.80, 0.6, 2, 0, tools.units[0]), (1.00, 0.6, 2, 1, tools.units[1]),
                     (0.98, 0.6, 2, 2, tools.units[2]), (0.90, 0.5, 2, 3, tools.units[3])], key=lambda u: -u[0])
    context = SimpleNamespace(passages=[practices, tools],
                              retrieval=SimpleNamespace(query="Which dependency scanning tools does the guide list?"))
    answerer = ExtractiveAnswerer()
    picked = answerer.named_list(scored, context, "tool")
    assert [u[4] for u in picked] == list(tools.units)
    assert answerer.named_list(scored, context, None) == []
    one_word = SimpleNamespace(**{**tools.__dict__, "hit": SimpleNamespace(section="Scanning Tools")})
    assert answerer.named_list(scored, SimpleNamespace(passages=[practices, one_word], retrieval=context.retrieval),
                               "tool") == []
    far = sorted(((u[0] - 0.5 if u[2] == 2 else u[0], *u[1:]) for u in scored), key=lambda u: -u[0])
    assert answerer.named_list(far, context, "tool") == []
    # A heading made of the set and the question's other words names that set ("Guidelines for the
    # Reviewer" for "What guidelines should a reviewer follow ...?"), though it shares one word only.
    guidelines = SimpleNamespace(**{**tools.__dict__, "hit": SimpleNamespace(section="Inclusion > Tools for the Reviewer")})
    reviewer = SimpleNamespace(passages=[practices, guidelines],
                               retrieval=SimpleNamespace(query="What tools should a reviewer use to keep reviews fair?"))
    assert [u[4] for u in answerer.named_list(scored, reviewer, "tool")] == list(tools.units)


def test_a_why_question_gets_the_benefits_list_of_the_document_it_names():
    """"Why would we want observability on our build pipelines?": the page's introduction matched best, but
    the "Benefits" list of "Observability of CI/CD Pipelines" is the set of reasons asked for."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer
    from assistant.lists import reasons_heading

    intro = SimpleNamespace(n=1, hit=SimpleNamespace(section="Observability of CI/CD Pipelines",
                                                     title="Observability of CI/CD Pipelines"),
                            items=(-1,), depths=(0,), units=("It is very important to consider observability.",))
    benefits = SimpleNamespace(n=2, hit=SimpleNamespace(section="Benefits", title="Observability of CI/CD Pipelines"),
                               items=(0, 1, 2), depths=(0, 0, 0),
                               units=("Helps find bottlenecks.", "Helps find failure trends.", "Gives a wide view."))
    scored = sorted([(1.02, 0.73, 1, 0, intro.units[0]), (0.76, 0.57, 2, 0, benefits.units[0]),
                     (0.75, 0.5, 2, 1, benefits.units[1]), (0.70, 0.5, 2, 2, benefits.units[2])], key=lambda u: -u[0])
    context = SimpleNamespace(passages=[intro, benefits], retrieval=SimpleNamespace(
        query="Why would we want observability on our build pipelines?"))
    answerer = ExtractiveAnswerer()
    assert [u[4] for u in answerer.named_list(scored, context, None, reasons_heading)] == list(benefits.units)
    assert answerer.named_list(scored, context, None) == []  # not a why-question
    # A benefits list of a document the question does not name is a neighbouring set.
    other = SimpleNamespace(**{**benefits.__dict__, "hit": SimpleNamespace(section="Benefits", title="Pair Programming")})
    assert answerer.named_list(scored, SimpleNamespace(passages=[intro, other], retrieval=context.retrieval),
                               None, reasons_heading) == []


def test_a_when_question_gets_the_list_of_conditions_its_heading_announces():
    """"ok, so when is it worth pulling in the wider group?" (after a question on pairing and swarming): the
    "When to Swarm Program" list of conditions answers, not the definitions that matched best."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer
    from assistant.grammar import _WHEN_COND
    from assistant.lists import conditions_heading

    question = "ok, so when is it worth pulling in the wider group instead of just the pair? (Why Collaboration)"
    assert _WHEN_COND.match(question) and _WHEN_COND.match("And when should we swarm?")
    assert not _WHEN_COND.match("So when was it published?")
    patterns = SimpleNamespace(n=1, hit=SimpleNamespace(section="Why Collaboration", title="Why Collaboration"),
                               items=(-1, -1), depths=(0, 0), units=("There are two patterns: pairing and swarming.",
                                                                     "Pairing is two engineers on one story."))
    when = SimpleNamespace(n=2, hit=SimpleNamespace(section="When to Swarm Program", title="Why Collaboration"),
                           items=(-1, 0, 1), depths=(0, 0, 0),
                           units=("Swarm when:", "The task became a blocker to other stories.", "A conflict arises."))
    scored = sorted([(0.74, 0.63, 1, 0, patterns.units[0]), (0.67, 0.55, 1, 1, patterns.units[1]),
                     (0.40, 0.3, 2, 0, when.units[0]), (0.55, 0.45, 2, 1, when.units[1]),
                     (0.52, 0.44, 2, 2, when.units[2])], key=lambda u: -u[0])
    context = SimpleNamespace(passages=[patterns, when], retrieval=SimpleNamespace(query=question))
    answerer = ExtractiveAnswerer()
    assert [u[4] for u in answerer.named_list(scored, context, None, conditions_heading)] == list(when.units)
    how = SimpleNamespace(**{**when.__dict__, "hit": SimpleNamespace(section="How to Swarm", title="Why Collaboration")})
    assert answerer.named_list(scored, SimpleNamespace(passages=[patterns, how], retrieval=context.retrieval),
                               None, conditions_heading) == []


@pytest.mark.parametrize("sentence, leans", [
    ("It is a language-agnostic CLI tool.", True),
    ("When paired with Codespaces, it presents a potent tool set.", True),
    ("However, they rarely agree on a format.", True),
    ("This document describes the process.", False),  # names its own subject
    ("When a build fails, the pipeline stops.", False),
    ("Items like it are rare.", False),
])
def test_a_pronoun_subject_is_found_after_an_opening_clause(sentence, leans):
    from assistant.grammar import _PRONOUN

    assert bool(_PRONOUN.match(sentence)) is leans


CHECKLIST = """# Engineering Checklist

## Observability

- Significant business events are tracked and related metrics collected.
- Health of the system is monitored.
- Application faults and errors are logged.

## Source Control

- Write good commit messages.
- Protect the main branch with policies.
"""

OBSERVING = """# Observability

Building observable systems lets a team measure how well its application behaves. Observability serves the following goals:

- Provide a holistic view of the application health.
- Measure the operational performance of the system.
- Identify and diagnose failures to get to the problem fast.
"""

COMMITS = """# Commit Messages

## Parts

The essential parts of a commit message are:

- subject line: a short description of the change, at most 50 characters long
- body (optional): a longer description, wrapped at 72 characters
"""


@pytest.fixture(scope="module")
def checklist(tmp_path_factory, embedder):
    return assistant_with(tmp_path_factory.mktemp("checklist"), embedder,
                          {"checklist.md": CHECKLIST, "observability.md": OBSERVING, "commits.md": COMMITS})


@pytest.mark.slow
def test_what_is_x_is_answered_from_the_document_titled_x(checklist):
    """A checklist's "Observability" section matches "What is observability?" as well as the document
    titled "Observability" does; that document is where the term is explained."""
    answer = checklist.ask("What is observability?")
    assert "holistic view of the application health" in answer.text, answer.text
    assert "Health of the system is monitored" not in answer.text


@pytest.mark.slow
def test_a_unit_that_only_repeats_the_question_is_no_answer(checklist):
    answer = checklist.ask("How do we write a good commit message?")
    assert "Write good commit messages" not in answer.text, answer.text
    assert "subject line: a short description" in answer.text


CASES = """# Platform Adoption

## Use cases

Here are a few real-life cases of the platform in use:

- To speed up vaccine research, Northwind Labs adopted the platform. They solved most of their hand-offs between teams.
- Contoso Freight adopted the platform to forecast its shipment volumes. This enabled them to raise forecast accuracy while cutting staff workload.
- Fabrikam Retail adopted the platform for its pricing models. It now retrains them weekly.
"""


@pytest.mark.slow
def test_the_matched_item_brings_the_sentence_that_leans_on_it(tmp_path_factory, embedder):
    """"What results did they get?" after "How did Contoso Freight use the platform?": the Contoso item
    matches, and its next sentence ("This enabled them to ...") is what it achieved: it comes along;
    another item's own follower ("They solved ...") does not."""
    cases = assistant_with(tmp_path_factory.mktemp("cases"), embedder, {"cases.md": CASES})
    answer = cases.ask("What results did they get?", history=["How did Contoso Freight use the platform?"])
    assert "raise forecast accuracy while cutting staff workload" in answer.text, answer.text
    assert "They solved most of their hand-offs" not in answer.text


def test_a_contrast_comes_with_the_side_it_contrasts_with():
    """"MLOps, on the other hand, ..." leans on the sentence before it, as "It ..." does (and a sentence so
    brought may lean on its own predecessor); a contrast after an earlier quoted sentence of its passage
    already has its other side in the answer."""
    from assistant.extractive import ExtractiveAnswerer

    units = ["DevOps and DataOps are two approaches.", "DevOps automates delivery.", "It aims at speed.",
             "DataOps, on the other hand, manages the data pipeline.", "MLOps, on the other hand, runs models."]
    by_pos = {(1, i): (1.0, 0.5, 1, i, u) for i, u in enumerate(units)}
    items = {1: (-1,) * len(units)}
    alone = [by_pos[1, 3]]
    ExtractiveAnswerer.antecedents(alone, by_pos, items)
    assert [u[4] for u in alone] == units[1:4]  # the contrast's other side, and what "It" names
    after_intro = [by_pos[1, 0], by_pos[1, 3]]
    ExtractiveAnswerer.antecedents(after_intro, by_pos, items)
    assert after_intro == [by_pos[1, 0], by_pos[1, 3]]


def test_a_cell_listing_names_is_split_only_when_it_lists_names():
    from assistant.composition import _cell_names

    assert _cell_names("Key Tools of DevOps: Jenkins, GitLab, Ansible, Chef, and Puppet") == [
        "Jenkins", "GitLab", "Ansible", "Chef", "Puppet"]
    assert _cell_names("Focus of DevOps: Development and Operations") == []  # one value, not a list
    assert _cell_names("Key Use Cases: Streamlines the development, deployment, and monitoring of machine "
                       "learning models for object detection, speech recognition") == []  # says something
    assert _cell_names("Jenkins, GitLab, Ansible") == []  # no label: not a cell


@pytest.mark.slow
def test_a_set_question_answered_by_a_cell_gets_its_names_as_a_list(shipped):
    """The article's comparison table: "Key Tools of DevOps: Jenkins, GitLab, Ansible, Chef, Puppet" is
    the answer, shown as its label and one verified name a line."""
    answer = shipped.ask("Which tools does the table list for DevOps?")
    assert answer.text.startswith("Key Tools of DevOps: [1]\n"), answer.text
    assert [s.text for s in answer.sentences if s.bullet][:5] == ["Jenkins", "GitLab", "Ansible", "Chef", "Puppet"]
    assert answer.removed == 0 and all(s.supported for s in answer.sentences)


DOUBLES = """# Test Doubles

## Stubs

A stub is an object that stands in for a collaborator and hands back canned answers.
Stubs are configured before the test runs and never fail a test themselves.
Teams keep their stubs small so that each test still reads clearly.
Most frameworks can generate stubs from an interface in one line.
The main difference from most other test doubles is that a stub only answers calls, whereas they also check them.

## Spies

Spies wrap a real object and remember every call that passes through them.
After the test, assertions read the recorded calls and their arguments.
Spies are handy when a side effect matters more than a return value.
"""


@pytest.fixture(scope="module")
def doubles(tmp_path_factory, embedder):
    return assistant_with(tmp_path_factory.mktemp("doubles"), embedder, {"doubles.md": DOUBLES})


@pytest.mark.slow
def test_a_comparison_brings_the_sentence_stating_the_difference(doubles):
    """The fifth sentence of the stubs' paragraph says how the two differ ("whereas"): it comes, though
    the paragraph's first sentences would fill the first side's share."""
    answer = doubles.ask("What's the difference between a stub and a spy?")
    assert not answer.refused
    assert "whereas they also check them" in answer.text, answer.text


@pytest.mark.slow
def test_a_comparison_opens_each_side_with_its_section_lead(doubles):
    """Each side opens with the sentence saying what it is, though others use the question's words more."""
    answer = doubles.ask("Stubs vs spies: how do they differ?")
    assert answer.text.startswith("A stub is an object that stands in"), answer.text
    assert "Spies wrap a real object" in answer.text, answer.text


@pytest.mark.parametrize("unit, side, defines", [
    ("Blue / Green is a deployment technique which reduces downtime.", {"blue", "green"}, True),
    ("Push metrics means that the originating component sends the data.", {"push"}, True),
    ("In the case of pull metrics, each component publishes an endpoint.", {"pull"}, True),
    ("With pull metrics, the agent scrapes each component.", {"pull"}, True),
    ("In the case of an outage, pull metrics show a gap.", {"pull"}, False),
    ("During application releases, the new version is deployed to blue.", {"blue", "green"}, False),
    ("The team that owns the blue and green stacks is the platform team.", {"blue", "green"}, False),
    # A glossary item: the term, a colon, then what it is.
    ("Latency: The delay or time lag between a request and its response.", {"latenc"}, True),
    ("Performance of Common Metrics: - Latency: under 500 ms.", {"latenc"}, False),
])
def test_a_sentence_defining_one_compared_side_is_recognised(unit, side, defines):
    assert _defines_side(unit, frozenset(side)) is defines


ONCALL = """# On-Call Handbook

## Tools

### Rota Keeper

Rota Keeper hands the pager to the next engineer every Monday morning.
It also reminds the engineer a day before their shift starts.

### Status Board

Our customers read about outages on the Status Board, updated by the incident commander.
The board keeps a history of every incident for the yearly review.

## Runbooks

We keep three kinds of runbooks for every service:

- Restart runbooks
- Failover runbooks
- Rollback runbooks

### Restart Runbooks

Restart runbooks bring a crashed service back with its last known good settings.

### Failover Runbooks

Failover runbooks move the traffic of a service to its standby region.

## Estimation

Incidents get a follow-up story, and the team sizes those stories like any other.

### Example 1: Bucket Sizes

- The team drops each story into one of three buckets: small, medium or large.
- Large stories are split before the sprint starts.

### Example 2: Dot Voting

- Every engineer gets three dots to vote on the stories that look smallest.

### Other Considerations

- Estimates are reviewed at the retrospective when a story runs over.
"""


@pytest.fixture(scope="module")
def oncall(tmp_path_factory, embedder):
    return assistant_with(tmp_path_factory.mktemp("oncall"), embedder, {"oncall.md": ONCALL})


@pytest.mark.slow
def test_sibling_sections_under_a_heading_naming_the_set_are_its_members(oncall):
    """"## Tools" then "### Rota Keeper", "### Status Board": each section is one tool, named by its
    heading, with the sentence that names it (the Status Board's second sentence does not)."""
    answer = oncall.ask("Which tools do we use when we are on call?")
    assert not answer.refused
    assert "- Rota Keeper: Rota Keeper hands the pager" in answer.text, answer.text
    assert "- Status Board: Our customers read about outages on the Status Board" in answer.text, answer.text
    assert answer.removed == 0 and all(s.supported for s in answer.sentences)


@pytest.mark.slow
def test_numbered_sibling_sections_are_the_set_and_their_other_siblings_are_not(oncall):
    answer = oncall.ask("What estimation approaches can the team use for incident follow-up stories?")
    assert "- Bucket Sizes: The team drops each story" in answer.text, answer.text
    assert "- Dot Voting: Every engineer gets three dots" in answer.text, answer.text
    assert "Other Considerations" not in answer.text and "retrospective" not in answer.text


@pytest.mark.slow
def test_a_parent_listing_its_members_answers_rather_than_the_sections_retrieved(oncall):
    """Only two of the three runbook sections exist; the parent's own list names all three."""
    answer = oncall.ask("What kinds of runbooks does the handbook describe?")
    assert "Rollback runbooks" in answer.text, answer.text


@pytest.mark.parametrize("question, query", [
    ("Our stand-up drags on. What does the playbook suggest?", "Our stand-up drags on."),
    ("We ship big releases. Any tips?", "We ship big releases."),
    ("We want to test on real traffic. How does the guide suggest doing that?", "We want to test on real traffic."),
    ("Our stand-up drags on. How do we shorten it?", None),  # the closing question asks something
    ("What does the playbook suggest?", None),  # nothing before it to ask about
    ("Our PRs sit for days. What does the playbook recomend we do about it?", "Our PRs sit for days."),  # a slip
])
def test_a_closing_question_asking_only_what_the_corpus_says_is_left_out_of_the_query(question, query):
    assert DomainProfile().without_bare_request(question) == (query or question)


@pytest.mark.parametrize("question, query", [
    ("What does the playbook suggest to keep the specs consistent?", "What does it suggest to keep the specs consistent?"),
    ("Which tools does the guide recommend for tracing?", "Which tools does it recommend for tracing?"),
    ("What are the core capabilities of a release train according to the article?",
     "What are the core capabilities of a release train?"),
    ("In the handbook, how do we roll back a release?", "How do we roll back a release?"),
    ("Who wrote the article?", None),  # the corpus is what is asked about
    ("Why did the playbook team pick MkDocs?", None),
    ("What does the guide sugest for tracing?", "What does it sugest for tracing?"),  # typed in a hurry
])
def test_the_corpus_named_as_the_one_who_says_something_is_left_out_of_the_query(question, query):
    assert DomainProfile().without_document_reference(question) == (query or question)


@pytest.mark.slow
def test_the_query_searched_is_the_statement_before_a_bare_request(composed):
    answer = composed.ask("We keep shipping huge releases that are hard to roll back. What does the guide suggest?")
    assert answer.query == "We keep shipping huge releases that are hard to roll back."
    assert composed.ask("Which advantages of small releases does the guide mention?").query == \
        "Which advantages of small releases does it mention?"
    assert "small increments" in answer.text, answer.text
    # An earlier turn's closing request is left out of a follow-up's query as well: that turn names nothing,
    # so the follow-up is searched with the title of the document it was answered from.
    followup = composed.ask("Any tooling for that?", ["We keep shipping huge releases that are hard to roll back. "
                                                      "What does the guide suggest?"])
    assert followup.query == "Any tooling for that? (Release Practice)", followup.query


@pytest.mark.parametrize("section, reference", [
    ("Resources", True),
    ("Deployment > See also", True),
    ("Resources > Tools", False),  # a heading of its own says what the section holds: tools, described
    ("Tools", False),
])
def test_a_section_is_references_when_its_own_heading_says_so(section, reference):
    assert DomainProfile().is_reference_section(section) is reference


@pytest.mark.parametrize("unit, pointer", [
    ("Docs on using the provider with a key vault here.", True),
    ("See the install guide for details.", True),
    ("For a lightweight tool set, see the vault-tools project.", True),
    ("For secrets, the operator reads the key vault.", False),
    ("The provider mounts secrets as a volume here and in every pod.", False),
    ("You can find more information on the vault operator in the Secret Stores document.", True),
    ("We can read more than one secret per call.", False),
    ("More information can be found in Secret Stores - Rotation.", True),
    ("You can read the team's article on fault injection for more information on writing hypotheses.", True),
    ("The tools below as well as the article linked above have more details on the platforms.", True),
    ("Reading the logs for more than a day costs more.", False),
    ("More details are available in the rotation guide.", True),
    ("More information is written to the audit log on each rotation.", False),
    ("The table below provides an overview of the differences between the stores.", True),
    ("Table 1. Comparing the secret stores", True),
    ("A table of contents is generated below the title.", False),
    ("Secrets are mounted as files.", False),
])
def test_a_sentence_whose_content_was_its_link_is_a_pointer(unit, pointer):
    assert bool(DomainProfile().pointer.search(unit)) is pointer


VAULT = """# Secret Stores

## Vault Operator

The vault operator copies each secret from the key vault into the cluster as a native secret.
It runs as one pod per cluster and reconciles every ten minutes.

Useful links for the vault operator:

- Comparison of vault operator and mount driver (issue tracker)
- Vault operator talk from the summit
"""


@pytest.mark.slow
def test_a_list_of_links_is_never_an_answer(tmp_path_factory, embedder):
    vault = assistant_with(tmp_path_factory.mktemp("vault"), embedder, {"vault.md": VAULT})
    answer = vault.ask("How does the vault operator compare with the mount driver?")
    assert "copies each secret from the key vault" in answer.text, answer.text
    assert "Comparison of vault operator" not in answer.text and "Useful links" not in answer.text


CHECKLIST = """# Review Recipes

## Go

Next to the general checklist, also look for these Go specific review items

- Is every returned error checked or passed on?
- Are goroutines given a way to stop?
- Is the context passed as the first argument?
"""


@pytest.mark.slow
def test_a_checklist_question_is_answered_with_the_checklists_questions(tmp_path_factory, embedder):
    """A checklist is written as questions; asked for, they are the answer, under their lead-in."""
    recipes = assistant_with(tmp_path_factory.mktemp("recipes"), embedder, {"recipes.md": CHECKLIST})
    answer = recipes.ask("What should a Go code review checklist include?")
    assert "- Is every returned error checked or passed on?" in answer.text, answer.text
    assert "- Are goroutines given a way to stop?" in answer.text


@pytest.mark.parametrize("question, parts", [
    ("Who proposed the ADR format, and where in the repo do ADRs normally go?",
     ["Who proposed the ADR format", "where in the repo do ADRs normally go?"]),
    ("What does embodied carbon mean, and how can we cut it down?",
     ["What does embodied carbon mean", "how can we cut it down? (embodied carbon mean)"]),
    ("My training loop is slow; how can I see where the time goes?",
     ["My training loop is slow; how can I see where the time goes?"]),  # a statement, then one question
    ("Should we encrypt secrets in the repo? Why?", ["Should we encrypt secrets in the repo? Why?"]),
    ("What is a blameless review?", ["What is a blameless review?"]),
    # Two questions joined by "and" alone, the second opening on a question word and its verb.
    ("When should I page the on-call engineer and when should I open a ticket?",
     ["When should I page the on-call engineer", "when should I open a ticket?"]),
    ("Which tools and what practices help?", ["Which tools and what practices help?"]),
    # A statement before two questions is the context of both.
    ("Our designers keep huge image files in the repo. What should we use, and what are the catches?",
     ["Our designers keep huge image files in the repo What should we use",
      "Our designers keep huge image files in the repo what are the catches?"]),
])
def test_the_questions_a_question_asks_are_read_from_its_grammar(question, parts):
    assert question_parts(question) == parts


REVIEWS = """# Incident Reviews

## Review Format

The blameless review format was proposed by Dana Whitfield for the platform group.
A blameless review format asks what happened, never who caused it.
Each review format section is filled in by the incident commander within two days.
The review format keeps a timeline, the impact, the contributing factors and the follow-up items.
Teams that adopt the blameless review format report more honest timelines.
The review format is read aloud at the weekly operations meeting.

## Archive

Finished write-ups are kept in the wiki under ops/postmortems, one page per incident.
"""


@pytest.mark.slow
def test_a_question_asking_two_things_gets_an_answer_to_each(tmp_path_factory, embedder):
    """The first part's passage could fill the whole answer; the second part's point still comes."""
    reviews = assistant_with(tmp_path_factory.mktemp("reviews"), embedder, {"reviews.md": REVIEWS})
    answer = reviews.ask("Who proposed the blameless review format, and where do finished write-ups get kept?")
    assert "Dana Whitfield" in answer.text, answer.text
    assert "ops/postmortems" in answer.text, answer.text


@pytest.mark.slow
def test_a_list_answer_goes_on_into_the_next_chunk_of_its_section(composed):
    answer = composed.ask("What should we steer clear of in integration fixtures?")
    assert not answer.refused
    for item in ("- Shared databases", "- Wall-clock waits", "- Hand-edited snapshots"):
        assert item in answer.text
    cited = {c.n: c.text for c in answer.citations}
    third = next(line for line in answer.text.splitlines() if line.startswith("- Hand-edited snapshots"))
    # The item is cited to the chunk that holds it, not to the one its list began in.
    assert "Hand-edited snapshots" in cited[int(third.rsplit("[", 1)[1].rstrip("]"))]


@pytest.mark.slow
def test_a_why_should_we_question_is_answered_by_the_list_of_advantages(composed):
    """The hierarchy's items match the question's words as well; the reasons are the advantages."""
    answer = composed.ask("Why would we define our own custom error types instead of the built-in ones?")
    assert not answer.refused
    assert "The advantages of using custom error types are:" in answer.text, answer.text
    for reason in ("business domain", "storage vendor", "data context"):
        assert reason in answer.text, answer.text


@pytest.mark.slow
def test_a_when_question_leads_with_the_sentence_stating_a_condition(composed):
    answer = composed.ask("When is a design spike not worth doing?")
    assert not answer.refused
    assert answer.text.startswith("A design spike should be avoided if the team already knows the answer."), answer.text


@pytest.mark.slow
def test_a_question_asking_what_to_do_leads_with_the_recommendation(composed):
    answer = composed.ask("Should we keep encrypted secrets in the configuration repository or reference an "
                          "external vault? Why?")
    assert not answer.refused
    assert answer.text.startswith("In short: referencing secrets in an external vault is the recommended approach."), \
        answer.text
    assert "It makes rotation easier" in answer.text, answer.text  # the sentence leaning on it comes along


@pytest.mark.slow
def test_a_question_naming_the_members_gets_the_list_that_names_them_all(composed):
    answer = composed.ask("How do I decide whether a change bumps the major, minor or patch number of a component?")
    assert not answer.refused
    for item in ("- Major number when you make", "- Minor number when you add", "- Patch number when you make"):
        assert item in answer.text, answer.text


@pytest.mark.parametrize("question, asks_condition", [
    ("When is a trade study not worth doing?", True),
    ("When should we switch to a scrum of scrums?", True),
    ("In what situation would we pick the second approach?", True),
    ("When was the article published?", False),  # a date, not a condition
    ("What happens when a build fails?", False),
])
def test_a_when_question_asking_for_a_condition_is_told_apart(question, asks_condition):
    from assistant.grammar import _WHEN_COND

    assert bool(_WHEN_COND.match(question)) is asks_condition


@pytest.mark.parametrize("question, wants_reasons", [
    ("Why would we define our own error types?", True),
    ("Why should our team adopt trunk-based development?", True),
    ("Why bother writing unit tests?", True),
    ("Why is the data part hard?", False),  # what makes it so, not a reason to do it
    ("Why do builds fail on Mondays?", False),
])
def test_a_why_question_asking_for_a_reason_to_act_is_told_apart(question, wants_reasons):
    from assistant.grammar import _WHY_DO

    assert bool(_WHY_DO.match(question)) is wants_reasons


@pytest.mark.slow
def test_a_list_answering_one_part_of_a_two_part_question_leaves_room_for_the_other(composed):
    answer = composed.ask("What should we steer clear of in integration fixtures, "
                          "and what is the parent of all custom error types?")
    assert not answer.refused
    assert "- Shared databases" in answer.text and "- Wall-clock waits" in answer.text  # the list, for part one
    assert "BaseError" in answer.text, answer.text  # and the answer to part two


@pytest.mark.parametrize("sentence, brings", [
    ("Post the above in a shared channel before ten.", True),
    ("All of the above apply to hotfix branches too.", True),
    ("The above diagram shows the flow.", False),  # points at a picture, not the list
    ("Post the update in a shared channel before ten.", False),
])
def test_a_sentence_referring_to_the_list_above_brings_it(sentence, brings):
    from assistant.extractive import ExtractiveAnswerer

    units = ["Use this template:", "Summary: short bullets.", "Plan: short bullets.", "Blockers: short bullets.", sentence]
    items = {1: (-1, 0, 1, 2, -1)}
    by_unit = {(1, i): (0.5, 0.5, 1, i, u) for i, u in enumerate(units)}
    picked = [by_unit[1, 4]]
    ExtractiveAnswerer.list_above(picked, by_unit, items, {1: (0,) * 5})
    quoted = [u[4] for u in picked]
    assert quoted == (units[1:] if brings else [sentence]), quoted


@pytest.mark.slow
def test_table_cells_of_an_answer_read_one_a_line(composed):
    answer = composed.ask("How does ModelOps differ from MLOps in its focus?")
    assert not answer.refused
    cells = [line for line in answer.text.splitlines() if line.startswith("- Focus of ")]
    assert len(cells) == 2, answer.text  # a list of cells, each cited, not a run-on paragraph
    assert all(line.rstrip().endswith("]") for line in cells)


def test_a_list_begun_in_the_chunk_before_is_quoted_from_its_lead_in():
    """The best match is an item of a list this chunk opens in the middle of; the previous chunk of the
    section, retrieved too, holds its lead-in and first items: they come first, each cited to its chunk."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    first = SimpleNamespace(n=2, units=["The recommended layout is as follows:", "One folder per module.",
                                        "A README in each folder."], items=(-1, 0, 1), depths=(0, 0, 0),
                            hit=SimpleNamespace(source="tf.md", section="Layout", start=0, end=200))
    second = SimpleNamespace(n=1, units=["Sub folders for examples and tests.", "A main folder for the root module."],
                             items=(0, 1), depths=(0, 0),
                             hit=SimpleNamespace(source="tf.md", section="Layout", start=201, end=400))
    scores = {(1, 0): 0.9, (1, 1): 0.85, (2, 0): 0.6, (2, 1): 0.8, (2, 2): 0.78}
    units = {(p.n, i): u for p in (first, second) for i, u in enumerate(p.units)}
    scored = sorted([(s, s - 0.3, n, i, units[n, i]) for (n, i), s in scores.items()], key=lambda u: -u[0])
    listed = ExtractiveAnswerer().list_answer(scored, SimpleNamespace(passages=[second, first]), kind=None)
    assert [(u[2], u[4]) for u in listed] == [
        (2, "The recommended layout is as follows:"), (2, "One folder per module."), (2, "A README in each folder."),
        (1, "Sub folders for examples and tests."), (1, "A main folder for the root module.")], listed


def test_a_unit_of_one_word_is_no_statement():
    """"major.minor[.build[.revision]]" (inline code, its ticks gone) shares two words with a question about
    major and minor versions, and says nothing: it scores as a lead-in does, below a statement."""
    from types import SimpleNamespace

    import numpy as np

    from assistant.extractive import ExtractiveAnswerer

    QUESTION = "When do the major and minor numbers change?"
    units = ("major.minor[.build[.revision]]", "A major version marks a breaking change to the interface.")
    vectors = np.array([[1.0, 0.0], [0.9, 0.436]], dtype=np.float32)
    passage = SimpleNamespace(n=1, units=units, unit_vectors=vectors, items=(-1, -1), depths=(0, 0),
                              hit=SimpleNamespace(section="Versions", title="Versioning", kind="text"))
    context = SimpleNamespace(passages=[passage], query_vector=np.array([1.0, 0.0], dtype=np.float32),
                              retrieval=SimpleNamespace(query=QUESTION), part_vectors=(), part_questions=(), scene=None)
    scored = ExtractiveAnswerer().score_units(QUESTION, context)
    assert scored[0][4] == units[1], scored


@pytest.mark.parametrize("text, lists", [
    ("Key features of Release Trains include fixed dates, shared gates, a train lead, and a release notes page.", True),
    ("Key features of Release Trains are speed and safety.", False),  # two members
    ("Key features of Canaries include fixed dates, shared gates and a lead.", False),  # another subject
    ("Release Trains include many long sentences that go on and on, and more of them, and others.", False),
])
def test_a_sentence_naming_a_set_of_the_subject_and_its_members_is_told_apart(text, lists):
    from assistant.extractive import ExtractiveAnswerer

    assert ExtractiveAnswerer().lists_set_of(text, "What are the core capabilities of release trains?") is lists


def test_a_set_named_by_another_word_leads_only_when_the_passages_never_use_the_question_s_word():
    """"Key features of X include ..." answers "What are the core capabilities of X?" (no passage says
    capabilities) but not "Which tools are listed for X?" when a passage lists "Key Tools of X"."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    enumerating = "Key features of Release Trains include fixed dates, shared gates, a train lead, and release notes."
    context = SimpleNamespace(passages=[SimpleNamespace(n=1, items=(-1, 0))])
    other = (0.9, 0.7, 1, 1, "Key Tools of Release Trains: Jenkins")
    picked = [(1.0, 0.8, 1, 1, "Release trains help teams ship together.")]
    scored = [picked[0], (0.95, 0.7, 1, 0, enumerating)]
    answerer = ExtractiveAnswerer()
    first = answerer.enumeration_first("What are the core capabilities of release trains?", scored, picked,
                                       "capabl", context)
    assert first[0][4] == enumerating
    assert answerer.enumeration_first("Which tools are listed for release trains?", scored + [other], picked,
                                      "tool", context) == picked


def test_a_sentence_pointing_back_brings_the_one_it_points_at():
    """"With this setting only newly introduced issues are flagged" needs "... using the --new-from-rev
    COMMITID." before it; "With care, ..." points at nothing."""
    from assistant.composition import Composition

    units = ["The linter can be introduced to a large codebase using the --new-from-rev flag.",
             "With this setting only newly introduced issues are flagged.", "With care, teams adopt it."]
    by_unit = {(1, i): (0.5, 0.5, 1, i, u) for i, u in enumerate(units)}
    picked = [by_unit[1, 1]]
    Composition.antecedents(picked, by_unit, {1: (-1, -1, -1)})
    assert [p[4] for p in picked] == units[:2]
    picked = [by_unit[1, 2]]
    Composition.antecedents(picked, by_unit, {1: (-1, -1, -1)})
    assert [p[4] for p in picked] == units[2:]


def _passage(markdown: str, n: int = 1):
    """A real Passage over one document's single chunk, its units as parse_blocks cuts them."""
    import numpy as np

    from assistant.chunking import chunk_document
    from assistant.context import Passage
    from assistant.types import Document, Hit

    chunk = chunk_document(Document(source="doc.md", title="Doc", text=markdown), max_words=2000)[0]
    hit = Hit(id=chunk.id, source=chunk.source, title=chunk.title, section=chunk.section, text=chunk.text,
              kind=chunk.kind)
    vectors = np.eye(len(chunk.units), 8, dtype=np.float32)
    return Passage(n, hit, chunk.units, vectors, chunk.unit_items)


def test_a_lead_in_whose_list_is_not_quoted_is_not_left_hanging():
    """A long code block (a config file), not a list, followed these lead-ins: one that only announces is
    left out, one that says something ends as a statement; a lead-in followed by its items keeps its colon."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    config = "```yaml\n" + "\n".join(f"key{i}: value{i}" for i in range(20)) + "\n```"
    passage = _passage(f"# Doc\n\nTeams agree on a convention at the start. One popular convention is "
                       f"structured as:\n\n{config}\n\nBefore merging, we rebase the topic branch on main:\n\n"
                       f"{config}\n\nTitles follow these rules:\n\n- Keep them short.\n")
    picked = [(1.0, 0.5, 1, i, u) for i, u in enumerate(passage.units)]
    draft = ExtractiveAnswerer().compose(picked, SimpleNamespace(passages=[passage]))
    assert "structured as" not in draft.text
    assert "Before merging, we rebase the topic branch on main. [1]" in draft.text
    assert "Titles follow these rules: [1]\n- Keep them short. [1]" in draft.text
    assert not draft.code  # twenty lines are read at the source, not quoted


def test_a_sentence_above_a_short_code_block_brings_it():
    """"How do I install Azurite?" was answered "you can install Azurite simply with npm ..." without the
    command the page shows right after it. A sentence ending the text above a short block brings the block;
    an item's block comes with the item; the block's one-line form, once an item of its lead-in, is not
    said a second time."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    passage = _passage("# Doc\n\nAzurite runs anywhere. You can install Azurite simply with npm.\n\n"
                       "```bash\n# Install Azurite\nnpm install -g azurite\n```\n\n"
                       "The following command sets your editor:\n\n```sh\ngit config core.editor vim\n```\n\n"
                       "1. Each developer can then run\n\n    ```sh\n    pre-commit install\n    ```\n")
    assert passage.code_after == {1: "```bash\n# Install Azurite\nnpm install -g azurite\n```",
                                  2: "```sh\ngit config core.editor vim\n```", 4: "```sh\npre-commit install\n```"}
    assert passage.units[3] == "git config core.editor vim"  # the example, citable as the lead-in's item
    picked = [(1.0, 0.5, 1, i, u) for i, u in enumerate(passage.units)]
    draft = ExtractiveAnswerer().compose(picked, SimpleNamespace(passages=[passage]))
    # A sentence leading into its block says nothing without it: those blocks come first. One after a
    # complete statement illustrates it, and comes while the answer shows fewer than two.
    assert draft.code == {"The following command sets your editor:": passage.code_after[2],
                          "Each developer can then run": passage.code_after[4]}
    assert "- git config" not in draft.text  # shown as code, not as a bullet
    assert "The following command sets your editor: [1]" in draft.text  # no hanging lead-in
    first = ExtractiveAnswerer().compose(picked[:3], SimpleNamespace(passages=[passage]))
    assert first.code == {"You can install Azurite simply with npm.": passage.code_after[1],
                          "The following command sets your editor:": passage.code_after[2]}


def test_an_answer_shows_the_code_block_its_passage_holds(tmp_path):
    """End to end: the Markdown answer has the block in place (after its sentence, indented under an item),
    the sentence record carries it, and the web's HTML shows it as <pre><code>."""
    from ui.render import answer_body

    assistant = toy_assistant(tmp_path, {"azurite.md": (
        "# Azurite\n\n## Install\n\nAzurite emulates Azure Storage on your machine. After the Node.js "
        "installation, you can install Azurite simply with npm.\n\n```bash\nnpm install -g azurite\n```\n\n"
        "Then start it with a folder for its data.\n")})
    answer = assistant.ask("How do I install Azurite with npm?")
    assert not answer.refused
    assert "with npm. [1]\n\n```bash\nnpm install -g azurite\n```" in answer.text
    coded = [s for s in answer.sentences if s.code]
    assert [s.code for s in coded] == ["```bash\nnpm install -g azurite\n```"]
    assert "npm install -g azurite" in answer.citations[0].text
    assert '<pre><code class="language-bash">npm install &#45;g azurite</code></pre>' in answer_body(answer)


def test_a_comparison_label_is_no_member_of_a_set_but_differences():
    """"MLOps vs. DevOps", an item of a list of headings, was quoted for "What other difficulties does the
    article point out?": a set answer takes title-like items ("- Load Testing"), but an "X vs. Y" label names
    a comparison, a member only of a set of differences."""
    from types import SimpleNamespace

    import numpy as np

    from assistant.extractive import ExtractiveAnswerer

    def score(question: str) -> float:
        passage = SimpleNamespace(n=1, units=("Batch vs. Stream", "Online vs. Offline"), items=(0, 1), depths=(0, 0),
                                  unit_vectors=np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32),
                                  hit=SimpleNamespace(section="Notes", title="Data", kind="list"))
        context = SimpleNamespace(passages=[passage], query_vector=np.array([1.0, 0.0], dtype=np.float32),
                                  retrieval=SimpleNamespace(query=question), part_vectors=(), part_questions=(), scene=None)
        return next(s[0] for s in ExtractiveAnswerer().score_units(question, context) if s[3] == 0)

    assert score("Which challenges does the guide list?") < score("Which differences does the guide list?") - 0.2


def test_the_section_a_question_names_by_its_heading_opens_the_answer():
    """"What should the deliverable of a technical spike look like?": the first sentence under the heading
    "Deliverable" answers, though the document's opening sentence on spikes is more like the question."""
    from types import SimpleNamespace

    import numpy as np

    from assistant.extractive import ExtractiveAnswerer

    QUESTION = "What should the deliverable of a technical spike look like?"
    opening = SimpleNamespace(n=1, units=("A distinction can be made between technical spikes and functional spikes.",),
                              unit_vectors=np.array([[0.75, 0.661]], dtype=np.float32), items=(-1,), depths=(0,),
                              hit=SimpleNamespace(section="Technical Spike", title="Technical Spike", kind="text"))
    section = SimpleNamespace(n=2, units=("Generally the deliverable from a technical spike is a document.",),
                              unit_vectors=np.array([[0.62, 0.785]], dtype=np.float32), items=(-1,), depths=(0,),
                              hit=SimpleNamespace(section="Deliverable", title="Technical Spike", kind="text"))
    context = SimpleNamespace(passages=[opening, section], query_vector=np.array([1.0, 0.0], dtype=np.float32),
                              retrieval=SimpleNamespace(query=QUESTION), part_vectors=(), part_questions=(), scene=None)
    scored = ExtractiveAnswerer().score_units(QUESTION, context)
    assert scored[0][4] == section.units[0], scored



@pytest.mark.slow
def test_the_direct_answers_paragraph_stops_at_a_sentence_about_the_document(composed):
    answer = composed.ask("When does a team ship on a release train?")
    assert not answer.refused
    assert "several services must go out together" in answer.text, answer.text
    assert "This article will provide an overview" not in answer.text, answer.text



@pytest.mark.slow
def test_the_best_items_sentences_come_in_order_without_a_gap(composed):
    answer = composed.ask("Why should authors avoid sweeping pull requests?")
    assert not answer.refused
    assert "sweeping pull request from a senior author" in answer.text, answer.text
    assert "shallow, unequal review" in answer.text, answer.text  # the sentence between comes too


def test_a_list_answers_best_item_brings_its_sentences_in_order():
    """The best item's later sentence that matches as well as the best ("... unstructured and complex")
    comes with the one between it and the item's first ("When there are data mismatches, ...")."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["Here are a few hurdles:", "Models need clean data.", "Mismatches disrupt the system.",
             "Data is often unstructured.", "Infrastructure is complex.", "Skills are scarce."]
    items = (-1, 0, 0, 0, 1, 2)
    scores = (0.5, 1.0, 0.5, 0.95, 0.9, 0.88)
    scored = sorted([(s, s - 0.3, 1, i, u) for i, (s, u) in enumerate(zip(scores, units))], key=lambda u: -u[0])
    passage = SimpleNamespace(n=1, units=units, items=items, depths=(0,) * 6,
                              hit=SimpleNamespace(section="Hurdles", source="h.md", start=0, end=200))
    listed = [u[4] for u in ExtractiveAnswerer().list_answer(scored, SimpleNamespace(passages=[passage]), kind="hurdl")]
    assert listed[:4] == units[:4], listed


@pytest.mark.parametrize("question, quoted", [
    ("How much does a seat cost?", ["Seats are billed at 19 dollars a month."]),  # an amount
    ("When was the seat price set?", ["As of late 2025, teams use the assistant for:",
                                      "Seats are billed at 19 dollars a month."]),
])
def test_a_year_alone_is_no_amount_but_is_a_date(question, quoted):
    """"As of late 2025, ..." dates its sentence: it answers "When ...?", not "How much does X cost?"."""
    from types import SimpleNamespace

    from assistant.extractive import ExtractiveAnswerer

    units = ["As of late 2025, teams use the assistant for:", "Code completion.", "Seats are billed at 19 dollars a month."]
    scored = [(1.0, 0.7, 1, 0, units[0]), (0.9, 0.6, 1, 2, units[2]), (0.8, 0.5, 1, 1, units[1])]
    passage = SimpleNamespace(n=1, items=(-1, 0, -1), depths=(0, 0, 0), unit_vectors=None,
                              hit=SimpleNamespace(kind="text", section="Pricing"))
    context = SimpleNamespace(passages=[passage], part_vectors=(), part_questions=(), scene=None,
                              retrieval=SimpleNamespace(query="How much does a seat cost?"))
    picked = ExtractiveAnswerer().select(scored, context, wants_quantity=True, question=question)
    assert [u[4] for u in picked if u[4] != "Code completion."] == quoted


def test_an_amount_is_told_from_a_year():
    from assistant.domain import DomainProfile

    states = DomainProfile().states_amount
    assert states("Seats cost $19 a month.") and states("It runs for 2 weeks.") and states("Since 2019 it costs 40 euros.")
    assert not states("As of late 2025, teams use it for completion.") and not states("No figures here.")


def test_a_quantity_question_takes_the_amount_it_asks_for():
    from assistant.domain import DomainProfile

    profile = DomainProfile()
    assert not profile.states_amount("Date: 2020-04-08")  # a date is no amount
    price = profile.amount_test("How much does an extra parallel job cost per month?")
    assert not price("The below example has 2 jobs: for Linux and Windows agents.")
    assert price("A parallel job costs $40 a month.") and price("It can be used at no cost for open source.")
    assert price("Jenkins is free but requires a dedicated server.")
    assert not price("Postman is a free API platform for testing APIs.")  # describes it; states no price
    days = profile.amount_test("How many days should we retain application logs?")
    assert not days("Date: 2020-04-08") and not days("Keep 2 copies of the logs.")
    assert days("Retain logs for 90 days.") and days("Keep them for three months.")
    assert not days("Sprint Demo of Duration: 1 hour")  # another scale of time
    circuits = profile.amount_test("How many ExpressRoute circuits should we provision?")
    assert circuits("Provision two ExpressRoute circuits in different locations.")
    assert not circuits("It takes 2 weeks to provision a circuit.")
    dumps = profile.amount_test("How many memory dumps should I capture, and when?")
    assert dumps("It is useful to take at least 3 dumps at different intervals.")
    assert profile.amount_test("How many engineers should be in a swarm?")("three or more software engineers on one item")
    lines = profile.amount_test("What is the maximum PR size in lines of code?")
    assert not lines("A minimum number of reviewers (usually 2) is enforced.") and lines("Keep it under 400 lines.")
    asks = profile.asks_quantity.search
    assert asks("What's the recommended retention period for Application Insights data?")
    assert asks("What is the maximum PR size in lines of code?") and not asks("What is the PR size guidance?")
    # Who is counted may be named otherwise ("people" -> "five engineers"): any amount answers.
    assert profile.amount_test("How many people should be on the team?")("A team of 5 engineers.")
    # "What's the minimum Vite version ...?" asks for a version number; a date or a tag is none.
    assert asks("What's the minimum Vite version the playbook requires for new React projects?")
    assert not asks("Which version control system should we use?")
    version = profile.amount_test("What's the minimum Vite version the playbook requires?")
    assert not version("create-react-app is deprecated as of January 2023.") and not version("Run npm i vite@latest.")
    assert version("Use Vite 5 or later.") and version("Vite version 5 supports it.") and version("vite@4.2")
    assert profile.amount_test("Which release introduced Pipelines?")("Pipelines came with release 0.3.0")
    # The version of the thing asked about: "Flux v2" is no Kubernetes version.
    kubernetes = profile.amount_test("Which Kubernetes version does the playbook recommend for AKS?")
    assert kubernetes("Pin clusters to Kubernetes 1.27 or later.") and not kubernetes("GitOps with Flux v2 runs on AKS.")


def test_a_sentence_adding_to_the_argument_comes_with_the_paragraph_however_it_scores():
    from assistant.extractive import ExtractiveAnswerer

    units = ["Caching also raises the risk that a returned resource is stale.",
             "This can create poor user experiences.",
             "Additionally, caching may allow unauthorized users to read sensitive data.",
             "The CDN section covers edge servers."]
    by_unit = {(1, i): (0.9 - 0.1 * i, sim, 1, i, u) for i, (u, sim) in enumerate(zip(units, (0.8, 0.6, 0.3, 0.3)))}
    picked = [by_unit[1, 0]]

    def take(item):
        picked.append(item)
        return True

    ExtractiveAnswerer().continue_paragraph(by_unit[1, 0], picked, take, by_unit, {1: [-1, -1, -1, -1]})
    assert [u[4] for u in picked] == units[:3]  # the added downside comes; the unrelated sentence after does not


def test_a_comparison_leads_with_what_each_side_is():
    from assistant.extractive import ExtractiveAnswerer
    from assistant.grammar import compared_sides

    sides = compared_sides("What's the difference between pairing and swarming?")
    scored = [(1.14, 0.78, 3, 3, "Swarming is done when the pair needs another sounding board."),
              (1.12, 0.74, 1, 6, "A conflict arises during a pairing session."),
              (0.98, 0.61, 2, 2, "Pair programming (pairing) - two engineers working on one shared story."),
              (0.94, 0.63, 2, 4, "Swarm programming (swarming) - three or more engineers on a high-priority item."),
              (0.90, 0.60, 2, 5, "Pairing is rewarding.")]
    answerer = ExtractiveAnswerer()
    lead = [s[4] for s in answerer.definitions_first(scored, sides)[:2]]
    assert lead == [scored[2][4], scored[3][4]]
    # Only one side defined, or the definitions far behind: the order stands.
    assert answerer.definitions_first(scored[:3] + scored[4:], sides) == scored[:3] + scored[4:]
    far = [(s[0] - (0.5 if s[3] in (2, 4) and s[2] == 2 else 0), *s[1:]) for s in scored]
    assert answerer.definitions_first(far, sides) == far


def test_an_item_under_a_benefits_heading_is_a_reason_for_a_why_question(tmp_path):
    from assistant.scoring import ExtractiveWeights

    assistant = toy_assistant(tmp_path, {"pipelines.md": (
        "# Observability of pipelines\n\nObservability of build pipelines matters more as they grow.\n\n"
        "## Benefits\n\n- Helps developers find where the pipeline bottlenecks are.\n"
        "- Helps to identify trends in failures of the build.\n\n"
        "## Setup\n\n- Add tracing to each pipeline stage.\n- Send the build logs to one place.\n")})
    kind = ExtractiveWeights().kind
    question = "Why would we want observability on our build pipelines?"
    assert lift(assistant, question, "Helps developers find", kind=0.0) == pytest.approx(kind)
    assert lift(assistant, question, "Add tracing", kind=0.0) == 0.0  # a list of steps gives no reasons
    assert lift(assistant, "How do we add observability to our build pipelines?", "Helps developers find",
                kind=0.0) == 0.0


def test_a_section_the_question_names_lifts_every_unit_under_it(tmp_path):
    from assistant.scoring import ExtractiveWeights

    assistant = toy_assistant(tmp_path, {"pr.md": (
        "# Pull request template\n\n## Description\n\nDescribe the change and its impact on the users.\n\n"
        "## Checklist\n\n- I have added tests to cover my changes.\n- I ran the lint checks on my changes.\n")})
    question = "What items are in the checklist section of our pull request template?"
    bonus = ExtractiveWeights().named_section
    assert lift(assistant, question, "I ran the lint", named_section=0.0) == pytest.approx(bonus)
    assert lift(assistant, question, "Describe the change", named_section=0.0) == 0.0
    assert lift(assistant, "What items go into our pull request template?", "I ran the lint", named_section=0.0) == 0.0


def test_a_price_question_is_refused_by_passages_counting_something_else(tmp_path):
    from tests.conftest import toy_assistant

    assistant = toy_assistant(tmp_path, {"jobs.md": (
        "# Parallel jobs\n\nA parallel job runs one pipeline at a time on an agent.\n\n"
        "Note: the example below has 2 jobs for Linux and Windows agents.\n")})
    answer = assistant.ask("How much does an extra parallel job cost per month?")
    assert answer.refused and "no sentence" in answer.reason
    answer = assistant.ask("How many parallel jobs does the example have?")
    assert not answer.refused and "2 jobs" in answer.text


def test_a_list_naming_only_one_compared_side_does_not_answer_a_comparison():
    from assistant.grammar import compared_sides
    from assistant.lists import one_sided

    sides = compared_sides("What's the difference between the docs in each repo and the project documentation?")
    parts = [(0.8, 0.7, 1, i, u) for i, u in enumerate(["Introduction", "Getting started", "Structure: folders, projects"])]
    assert one_sided(parts, sides)
    both = [(0.8, 0.7, 1, 0, "Repo docs cover setup."), (0.7, 0.6, 1, 1, "Project documentation covers the team.")]
    assert not one_sided(both, sides)


@pytest.mark.parametrize("sentence, states", [
    ("Every repository keeps its own docs, while the project keeps the shared ones.", True),
    ("Mocks verify behaviour, whereas stubs verify state.", True),
    ("Run the linter while you wait for the build.", False),  # "while" as "during"
])
def test_a_clause_set_against_the_one_before_states_a_difference(sentence, states):
    from assistant.grammar import _DIFFERENCE

    assert bool(_DIFFERENCE.search(sentence)) is states


@pytest.mark.parametrize("question, scene, asked", [
    ("We pair program most of the time. Who should review the code then?",
     "We pair program most of the time", "Who should review the code then?"),
    ("My training loop is slow; how can I see where the time goes?", "My training loop is slow",
     "how can I see where the time goes?"),
    ("What is MLOps?", "", ""),  # nothing before the question
    ("Who proposed the format, and where do ADRs go?", "", ""),  # two questions, no scene
    # A scene, then two questions: both are what is asked.
    ("Our clones keep getting slower. What does the playbook suggest, and how do we set it up?",
     "Our clones keep getting slower", "What does the playbook suggest how do we set it up?"),
])
def test_the_scene_a_question_sets_is_told_from_what_it_asks(question, scene, asked):
    from assistant.grammar import scene_and_ask

    assert scene_and_ask(question) == (scene, asked)


def test_a_sentence_restating_the_scene_scores_down(tmp_path):
    """"A bad deployment hammered our downstream services with retries. What does the guide recommend?": the
    sentence saying what the user just said is no answer; the advice after it is."""
    from assistant.scoring import ExtractiveWeights
    from tests.conftest import toy_assistant

    assistant = toy_assistant(tmp_path, {"dos.md": (
        "# Self-inflicted outages\n\nA bad deployment results in clients hammering downstream services with "
        "retries.\n\nTo protect the services, implement exponential backoff and add load shedding.\n")})
    scene = "A bad deployment has clients hammering our downstream services with retries. How do we protect them?"
    assert lift(assistant, scene, "A bad deployment", restates=0.0) == pytest.approx(ExtractiveWeights().restates)
    no_scene = "How do we protect downstream services from a bad deployment?"
    assert lift(assistant, no_scene, "A bad deployment", restates=0.0) == 0.0


def test_an_item_of_a_list_whose_lead_in_names_the_set_brings_the_list():
    """"What's the point of building observable systems? Which goals does observability serve?" quoted one of
    the four items under "Observability serves the following goals:": the lead-in names the set asked for,
    so one item is evidence enough for the whole list. A lead-in naming something else brings nothing."""
    from assistant.extractive import ExtractiveAnswerer

    def run(lead: str) -> list[str]:
        units = ["Building observable systems lets teams measure behaviour.", lead, "Show application health.",
                 "Measure business performance.", "Measure operational performance.", "Diagnose failures fast."]
        items = {1: (-1, -1, 0, 1, 2, 3)}
        by_unit = {(1, i): (0.5, 0.5, 1, i, u) for i, u in enumerate(units)}
        picked = [by_unit[1, 0], by_unit[1, 4]]
        ExtractiveAnswerer().kind_led_list(picked, by_unit, items, "goal")
        return [u[4] for u in picked]

    assert run("Observability serves the following goals:") == [
        "Building observable systems lets teams measure behaviour.", "Measure operational performance.",
        "Observability serves the following goals:", "Show application health.", "Measure business performance.",
        "Diagnose failures fast."]
    assert len(run("Observability helps with:")) == 2


def test_a_lead_in_whose_items_cannot_be_quoted_is_left_out():
    """"Possible questions to ask:" over a list of questions: the questions are no answer (never scored), so
    the lead-in would end the paragraph dangling; it goes, and the explanation stays. A lead-in whose items
    are quotable brings them."""
    from assistant.extractive import ExtractiveAnswerer

    units = ["Drift detection uncovers real changes in incoming data.", "Drift monitoring guides retraining.",
             "Possible questions to ask:", "Is there a drift detection strategy in place?", "What is drift?"]
    picked = [(0.9, 0.6, 1, i, units[i]) for i in range(3)]
    by_unit = {(1, i): picked[i] for i in range(3)}  # the questions are no answer: not scored
    items = {1: (-1, -1, -1, 0, 1)}
    answerer = ExtractiveAnswerer()
    assert [u[4] for u in answerer.with_items(picked, by_unit, items)] == units[:2]
    by_unit.update({(1, i): (0.5, 0.4, 1, i, units[i]) for i in (3, 4)})  # quotable items come with it
    assert [u[4] for u in answerer.with_items(picked, by_unit, items)] == units


def test_a_lead_in_ending_its_chunk_without_what_it_introduces_is_no_answer():
    """The chunker cut "... comment in C# that explains why (from a private method):" from the code block it
    introduces: quoted, it would end the answer on a colon. With its block in the chunk, it answers."""
    from types import SimpleNamespace

    import numpy as np

    from assistant.extractive import ExtractiveAnswerer

    def scored(code_after: dict) -> list[int]:
        units = ("Implementation comments explain why code is there.",
                 "A single line comment in C# explains why the code is there:")
        passage = SimpleNamespace(n=1, units=units, items=(-1, -1), depths=(0, 0), code_after=code_after,
                                  unit_vectors=np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32),
                                  hit=SimpleNamespace(section="Comments", title="Code", kind="text"))
        context = SimpleNamespace(passages=[passage], query_vector=np.array([1.0, 0.0], dtype=np.float32),
                                  retrieval=SimpleNamespace(query="Why comment code?"), part_vectors=(),
                                  part_questions=(), scene=None)
        return sorted(s[3] for s in ExtractiveAnswerer().score_units("Why comment code?", context))

    assert scored({}) == [0]
    assert scored({1: "```csharp\n// why\n```"}) == [0, 1]


def test_sub_sections_describing_their_members_as_the_kind_asked_are_the_set(tmp_path):
    """"Which CI services ...?" over "## Tools" > "### Jenkins", "### CircleCI", ...: the heading names the set
    by another word, but the sections open by saying what their member is ("CircleCI is a free CI service"):
    they are the set. Sections that merely mention the kind ("... the service team") are not."""
    from assistant.grammar import describes_as

    assert describes_as("CircleCI", "CircleCI is a free service for open source projects. It runs fast.", "servic")
    assert not describes_as("Benefits", "Many organizations see the value of it.", "organ")
    assert not describes_as("CircleCI", "It is fast. CircleCI is a free service.", "servic")  # the first sentence says
    assistant = toy_assistant(tmp_path, {"ci.md": (
        "# Continuous Integration\n\n## Why\n\nA pipeline checks every change before it merges.\n\n## Tools\n\n"
        "### Lighthouse Runner\n\nLighthouse Runner is a hosted CI service with a free tier for open source.\n\n"
        "### Quarry\n\nQuarry is a free CI service that needs no dedicated server.\n\n"
        "### Beacon\n\nBeacon is another CI service, which also builds on Windows agents.\n"),
        "teams.md": "# Teams\n\n## Roles\n\nThe service team owns the pipeline agents and their upgrades.\n"})
    answer = assistant.ask("Which CI services does the guide list?")
    assert all(name in answer.text for name in ("Lighthouse Runner", "Quarry", "Beacon")), answer.text
    # A member the question sets aside is not listed again, and its absence from the answer is no reason to refuse.
    for question in ("Apart from Quarry, which CI services does the guide list?",
                     "Which CI services other than Quarry does the guide list?"):
        answer = assistant.ask(question)
        assert "Lighthouse Runner" in answer.text and "Beacon" in answer.text and "Quarry" not in answer.text, answer.text


def test_a_list_answer_leaves_out_the_member_the_question_sets_aside():
    """"Besides CodeQL, which tools ...?": the item opening with CodeQL goes, with its later sentences; the rest
    stay. When too little would be left, the answer stays as it was."""
    from assistant.extractive import _without_members
    from assistant.grammar import excluded_members

    excluded = excluded_members("Besides CodeQL, which tools does the playbook suggest?")
    assert excluded == {"codeql"}
    units = [(0.9, 0.6, 1, 0, "Tools:"), (0.9, 0.6, 1, 1, "detect-secrets finds secrets."),
             (0.8, 0.6, 1, 2, "CodeQL - GitHub security."), (0.7, 0.6, 1, 3, "CodeQL lets you query code."),
             (0.8, 0.6, 1, 4, "Git-secrets blocks commits.")]
    items = {1: (-1, 0, 1, 1, 2)}
    assert [u[4] for u in _without_members(units, excluded, items)] == \
        ["Tools:", "detect-secrets finds secrets.", "Git-secrets blocks commits."]
    assert [u[4] for u in _without_members(units[:4], excluded, items)] == ["Tools:", "detect-secrets finds secrets."]
    assert _without_members(units[2:4], excluded, items) == units[2:4]  # nothing would be left


def test_a_clause_whose_subject_is_a_pronoun_leans_on_the_sentence_before(tmp_path):
    """"As its significance becomes more evident, an increasing number of organizations ..." opened the answer
    to "Which organizations is ModelOps ideal for?": its "its" is a sentence the answer does not quote. It
    scores as a sentence opening with a pronoun does; "When it comes to ..." is an idiom, no pronoun."""
    from assistant.grammar import _LEANING_CLAUSE
    from assistant.scoring import ExtractiveWeights

    assistant = toy_assistant(tmp_path, {"ops.md": (
        "# Model Operations\n\n## Benefits\n\nAs its significance becomes more evident, many organizations adopt "
        "model operations.\n\nModel operations is ideal for organizations with a mature platform.\n")})
    question = "Which organizations is model operations ideal for?"
    assert lift(assistant, question, "As its significance", anaphor=0.0) == pytest.approx(ExtractiveWeights().anaphor)
    assert lift(assistant, question, "Model operations is ideal", anaphor=0.0) == 0.0
    assert not _LEANING_CLAUSE.match("When it comes to log collection methods, two techniques are common.")
    assert _LEANING_CLAUSE.match("Since they run in the pipeline, the checks are cheap.")


CHAOS = """# Chaos Experiments

## Terms

Running a chaos experiment safely is unlike fault injection in a lab: it generates new information.

## Practice

The following high-level steps give a sample of practicing chaos experiments:

- Measure a steady state of the production system before you run anything.
- Write a hypothesis about the failure, then run the experiment.
- Compare the production result with the baseline.
"""


@pytest.mark.parametrize("question, steps", [
    ("How do we run a chaos experiment against production safely?", True),
    ("What is a chaos experiment against production?", False),
])
def test_a_question_asking_how_is_answered_by_the_steps_a_page_lists(tmp_path, question, steps):
    """"How do we run a fault injection / chaos experiment against production safely?" was answered with what
    the two terms mean; the page lists the steps ("the following steps ...:"), which are the way asked for."""
    assistant = toy_assistant(tmp_path, {"chaos.md": CHAOS})
    text = assistant.ask(question).text
    assert ("- Measure a steady state" in text and "- Write a hypothesis" in text) is steps


@pytest.mark.parametrize("question, thing", [
    ("What's the Git LFS storage quota on Azure DevOps before we get charged?", "quota"),
    ("What are the key features of DevOps?", "featur"),
    ("What is the capital of France?", "capit"),
    ("Which tools lint Markdown?", ""),  # not "what's the X of Y"
])
def test_what_a_question_asks_for_is_the_last_word_before_its_preposition(question, thing):
    from assistant.grammar import asked_thing

    assert asked_thing(question) == thing


def test_a_question_asking_for_a_thing_no_document_mentions_is_refused(tmp_path):
    """"What's the Git LFS storage quota on Azure DevOps?" was answered "Git LFS is fully supported in Azure
    DevOps Services": the corpus never says "quota". The same question asking for a limit it states is answered."""
    assistant = toy_assistant(tmp_path, {"lfs.md": "# Git LFS\n\nGit LFS is fully supported in Azure DevOps. "
                                                   "The storage limit of Git LFS on Azure DevOps is generous.\n"})
    refused = assistant.ask("What's the Git LFS storage quota on Azure DevOps?")
    assert refused.refused and "quota" in refused.reason
    assert not assistant.ask("What's the Git LFS storage limit on Azure DevOps?").refused


RELEASE_STYLES = """# Release Styles

## Introduction

Release styles decide how a new version reaches users.

## Blue-Green vs. Canary

Blue-green and canary are two ways of releasing software to production users. Blue-green keeps two identical
production environments and switches every user at once. It makes a rollback a single switch back.
Canary, on the other hand, sends a small subset of production users to the new version first. Canary then
widens that subset step by step while the metrics stay healthy.

## Further Reading

Release engineering books explain production rollouts and users in depth.
"""


def test_a_heading_naming_both_sides_tells_neither_side_apart(tmp_path):
    """"How does DevOps differ from DataOps?" under "## DevOps vs. DataOps" quoted the DevOps half of the section
    and a byline: with the heading's words counted, every sentence of the section was "about" both sides, so the
    DataOps half never came as that side's point."""
    assistant = toy_assistant(tmp_path, {"releases.md": RELEASE_STYLES})
    text = assistant.ask("What's the difference between blue-green and canary releases for production users?").text
    assert "Blue-green keeps two identical" in text and "Canary, on the other hand" in text, text


def test_a_quoted_clause_leaning_on_a_pronoun_brings_the_sentence_it_leans_on():
    """"As its significance becomes more evident, ..." says whose significance only after the sentence before
    it; quoted, that sentence comes first, as it does for "It ..."."""
    from assistant.extractive import ExtractiveAnswerer

    units = ["ModelOps manages models through their whole life.",
             "As its significance becomes more evident, more teams adopt it."]
    by_unit = {(1, i): (0.5, 0.5, 1, i, u) for i, u in enumerate(units)}
    picked = [by_unit[1, 1]]
    ExtractiveAnswerer.antecedents(picked, by_unit, {1: (-1, -1)})
    assert [u[4] for u in picked] == units
