"""Chunking: heading paths, spans, table cells, size limits and stable ids."""

from __future__ import annotations

import pytest

from assistant.chunking import chunk_document
from assistant.corpus import load_file
from assistant.text import split_sentences, words
from assistant.types import Document
from tests.conftest import ARTICLE


def shipped_chunks():
    doc = load_file(ARTICLE, ARTICLE.parent)
    return doc, chunk_document(doc)


def test_sections_and_spans():
    doc, chunks = shipped_chunks()
    sections = {c.section for c in chunks}
    for expected in ("DevOps > Use cases", "MLOps > Challenges", "ModelOps > Benefits",
                     "Introduction > DevOps vs. DataOps", "Choosing the Right Approach", "Conclusion"):
        assert expected in sections
    for chunk in chunks:
        assert chunk.source == "mlops-devops-modelops.md"
        assert 0 <= chunk.start < chunk.end <= len(doc.text)
        if chunk.kind not in ("table", "card"):  # the span points at the text the chunk came from
            first_words = chunk.text.lstrip("- ").split()[:3]
            assert " ".join(first_words).replace("**", "") in doc.text[chunk.start:chunk.end].replace("**", "")


def test_prose_chunks_are_citation_sized():
    _, chunks = shipped_chunks()
    prose = [c for c in chunks if c.kind != "table"]
    assert all(words(c.text) <= 250 for c in prose)
    assert sum(words(c.text) >= 40 for c in prose) >= len(prose) - 3


def test_table_cells_stand_alone():
    _, chunks = shipped_chunks()
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) == 3  # one per compared column: MLOps, DevOps, ModelOps
    units = [u for c in tables for u in c.units]
    assert "Key Tools of DevOps: Jenkins, GitLab, Ansible, Chef, Puppet" in units
    assert len(units) == 12  # 4 rows x 3 columns
    devops = next(c for c in tables if c.text.splitlines()[0] == "Comparison of MLOps, DevOps and ModelOps - DevOps")
    assert all(u in devops.text for u in devops.units)
    assert "Ansible" in devops.text and "Kubeflow" not in devops.text



def test_a_delimiter_row_of_short_dashes_is_no_table_row():
    text = ("# Rhythm\n\n## Meetings\n\n| Activity | When | Accountable |\n| -- | -- | -- |\n"
            "| Standup | 9AM | Process Lead |\n| Planning | Monday | PO |\n| Retro | Friday | Process Lead |\n")
    chunks = chunk_document(Document(source="r.md", title="Rhythm", text=text), min_words=1)
    units = [u for c in chunks if c.kind == "table" for u in c.units]
    assert "Planning of Accountable: PO" in units
    assert not any("--" in u for u in units), units

def test_list_items_become_units():
    _, chunks = shipped_chunks()
    use_cases = next(c for c in chunks if c.section == "MLOps > Use cases")
    assert any(u.startswith("Senko group implemented MLOps") for u in use_cases.units)
    assert any("Merck Research Labs utilized MLOps" in u for u in use_cases.units)


def test_ids_are_stable_and_content_based():
    doc, first = shipped_chunks()
    _, second = shipped_chunks()
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    changed = Document(source=doc.source, title=doc.title, text=doc.text.replace("Merck Research Labs", "Merck Labs"),
                       metadata=doc.metadata)
    changed_ids = {c.id for c in chunk_document(changed)}
    assert len({c.id for c in first} - changed_ids) == 1  # only the edited chunk gets a new id


def test_long_sections_split_with_overlap():
    body = " ".join(f"Sentence number {i} talks about pipelines and deployment." for i in range(120))
    doc = Document(source="long.md", title="Long", text=f"# Long\n\n## Part\n\n{body}\n")
    chunks = chunk_document(doc, max_words=100, overlap_words=20)
    assert len(chunks) > 5 and all(words(c.text) <= 100 for c in chunks)
    assert all(c.section == "Part" for c in chunks)
    assert set(chunks[0].units) & set(chunks[1].units)  # overlap only where a section is split


def test_split_sentences_keeps_abbreviations_and_fragments():
    assert split_sentences("MLOps vs. DevOps differ. Table 1. Comparing tools here.") == [
        "MLOps vs. DevOps differ.", "Table 1. Comparing tools here."]
    # An abbreviation that closes a parenthesis ends its sentence; one mid-sentence does not.
    assert split_sentences("Follow the rules on PII (Ex: GDPR etc.) Read more on logs here.") == [
        "Follow the rules on PII (Ex: GDPR etc.)", "Read more on logs here."]
    assert len(split_sentences("Tools (Flux, Argo, etc.) are popular with many teams.")) == 1
    # "ex." introduces examples: the names after it are the point ("... templates – ex. Terraform, Bicep").
    assert split_sentences("Resources come from templates – ex. Terraform, Bicep (ARM). Releases are automated.") == [
        "Resources come from templates – ex. Terraform, Bicep (ARM).", "Releases are automated."]
    # A short reply to a question stands alone: it is no caption of the sentence after it.
    assert split_sentences("Would one setup suit everyone? Maybe not. Containers make that possible.") == [
        "Would one setup suit everyone?", "Maybe not.", "Containers make that possible."]


def test_a_lower_case_tool_name_after_a_full_stop_starts_a_sentence():
    assert split_sentences("It has benefits over other solutions. golangci-lint can run linters in parallel.") == [
        "It has benefits over other solutions.", "golangci-lint can run linters in parallel."]
    assert split_sentences("It scans the current state.\ndetect-secrets employs a baseline file.") == [
        "It scans the current state.", "detect-secrets employs a baseline file."]
    # Lower case after an abbreviation or a plain word goes on: "e.g. flake-8", "etc. and more".
    assert len(split_sentences("Use a linter of your choice, e.g. flake-8 or black, in the build.")) == 1
    assert len(split_sentences("Linters, formatters, etc. and other tools run in the build.")) == 1


def test_reading_lists_are_shown_but_never_citable():
    text = ("# Tools\n\n## GitOps\n\nSome popular GitOps frameworks for Kubernetes:\n\n"
            "- [Flux V2](https://fluxcd.io)\n- [Argo CD](https://argo-cd.readthedocs.io)\n\n"
            "Flux syncs the cluster from Git.\n\nResources:\n\n- [Understanding dataset shift](https://x.y/z)\n"
            "- [\"Learning Under Concept Drift\" by Lu et al.](https://x.y/w)\n")
    [chunk] = chunk_document(Document(source="t.md", title="Tools", text=text))
    assert "Understanding dataset shift" in chunk.text  # the reader still sees the links ...
    assert "Flux V2" in chunk.units and "Argo CD" in chunk.units  # ... a list a lead-in introduces is content
    assert not any("dataset shift" in u or "Concept Drift" in u for u in chunk.units)  # a reading list is not


def test_task_list_boxes_are_not_part_of_the_item():
    text = "# Checklist\n\n## Design\n\nBefore release, check:\n\n- [ ] Design reviews are documented.\n- [x] Tests run in CI.\n"
    [chunk] = chunk_document(Document(source="c.md", title="Checklist", text=text))
    assert "Design reviews are documented." in chunk.units and "Tests run in CI." in chunk.units
    assert "[ ]" not in chunk.text and "[x]" not in chunk.text


def test_links_a_sentence_of_their_section_introduces_are_content():
    text = ("# Canary\n\n## Tools\n\nA few proxies can mirror traffic to the new version.\n\n"
            "- [Mirrorly](https://example.org/m)\n- [Shadowcat](https://example.org/s)\n\n"
            "## Further Reading\n\n- [Canary releases explained](https://example.org/c)\n")
    chunks = chunk_document(Document(source="c.md", title="Canary", text=text))
    units = [u for c in chunks for u in c.units]
    assert "Mirrorly" in units and "Shadowcat" in units  # named by "A few proxies can mirror ..."
    assert not any("Canary releases explained" in u for u in units)  # a heading alone introduces nothing


def test_a_lead_in_stays_with_its_list():
    prose = " ".join(f"Sentence {i} explains how the log store keeps its data for later queries." for i in range(12))
    text = (f"# Logs\n\n## Setup\n\n{prose}\n\nThe stack has three main parts:\n\n"
            "- An agent that ships the logs.\n- A server that stores them.\n- A dashboard that queries them.\n")
    chunks = chunk_document(Document(source="l.md", title="Logs", text=text), min_words=20, max_words=200)
    [with_lead] = [c for c in chunks if "three main parts:" in c.text]
    assert "An agent that ships the logs." in with_lead.units
    assert "A dashboard that queries them." in with_lead.units


def test_sub_sections_a_lead_in_announces_are_its_items():
    text = ("# Testing\n\n## Categories\n\nPerformance testing is broad. There are several categories:\n\n"
            "### [Load Testing](./load.md)\n\nExpected load.\n\n### Stress Testing\n\nExtreme load.\n\n"
            "#### Details\n\nMore.\n\n### Spike Testing\n\nSudden load.\n\n## Resources\n\nNothing here:\n\n- x\n")
    chunks = chunk_document(Document(source="t.md", title="Testing", text=text), min_words=1, max_words=200)
    [lead] = [c for c in chunks if "several categories:" in c.text]
    assert lead.section == "Categories"
    assert [u for u, i in zip(lead.units, lead.unit_items) if i >= 0] == ["Load Testing", "Stress Testing", "Spike Testing"]
    assert lead.end == text.index("categories:") + len("categories:")  # the cited span stays the lead-in's
    assert not any(c.section == "Categories" and "Details" in c.units for c in chunks)  # only direct sub-sections


@pytest.mark.parametrize("lead, more", [
    ("The log stack has three main components:", "## Query Language\n\nLogQL.\n\n"),  # the count ends them
    ("The log stack has these components:", "## Why use this stack\n\nIt is cheap.\n\n"),  # a question is none
])
def test_sub_sections_after_the_announced_members_are_not_items(lead, more):
    text = (f"# Log Stack\n\n{lead}\n\n## Agent\n\nShips logs.\n\n## Server\n\nStores logs.\n\n"
            f"## Dashboard\n\nShows logs.\n\n{more}## Resources\n\n- [Site](https://example.com)\n")
    chunks = chunk_document(Document(source="s.md", title="Log Stack", text=text), min_words=1, max_words=200)
    [head] = [c for c in chunks if lead in c.text]
    assert [u for u, i in zip(head.units, head.unit_items) if i >= 0] == ["Agent", "Server", "Dashboard"]


def test_front_matter_author_and_publisher_become_a_citable_card():
    doc = Document(source="a.md", title="Ops Compared", text="# Ops Compared\n\nBody text about ops.\n",
                   metadata={"author": "Ada Quill", "publisher": "Quarterly Ops Review", "tags": ["x"]})
    [card] = [c for c in chunk_document(doc) if "written by" in c.text]
    assert card.units == ("This document was written by Ada Quill.", "This document was published by Quarterly Ops Review.")
    assert card.title == "Ops Compared" and card.section == "About this document"
    assert not [c for c in chunk_document(Document(source="b.md", title="B", text="# B\n\nBody.\n")) if "written by" in c.text]


def test_a_picture_alone_is_shown_but_never_citable():
    text = ("# Integration\n\n## Top Down\n\nTop down testing follows the control flow of the system.\n\n"
            "![Top Down Integration Testing](./images/topDown.png)\n\n"
            "Stubs stand in for the lower level modules. See ![icon](i.png) for the legend.\n")
    [chunk] = chunk_document(Document(source="i.md", title="Integration", text=text))
    assert "Top Down Integration Testing" in chunk.text  # the reader still sees the caption ...
    assert not any(u.strip() == "Top Down Integration Testing" for u in chunk.units)  # ... it is no answer
    assert any(u.startswith("Stubs stand in") for u in chunk.units)  # a picture inside prose keeps its sentence
    # Alt text that names nothing is no caption: the reader is not shown a line saying "image".
    [chunk] = chunk_document(Document(source="i.md", title="Integration", text=text.replace(
        "Top Down Integration Testing]", "image]")))
    assert "image" not in chunk.text.lower().split()


def test_introduced_links_are_content_only_when_they_name_things():
    text = ("# Git\n\n## Commits\n\nThe essential parts of a commit message are a subject line and a body.\n\n"
            "For more information on commit message conventions, see:\n\n"
            "- [Conventional Commits](https://example.org/cc)\n- [On commit messages](https://example.org/on)\n\n"
            "## Tutorials\n\nThese tutorials walk through a GitOps setup step by step.\n\n"
            "- [Tutorial: Deploy configurations using GitOps on a cluster](https://example.org/t1)\n"
            "- [Flux](https://example.org/flux)\n")
    units = [u for c in chunk_document(Document(source="g.md", title="Git", text=text)) for u in c.units]
    assert not any("Conventional Commits" in u or "On commit messages" in u for u in units)  # "see:" points away
    assert not any(u.startswith("Tutorial: Deploy") for u in units)  # a title is a pointer, even introduced
    assert "Flux" in units  # a name the section introduces is content


def test_a_short_example_a_lead_in_announces_is_its_item():
    text = ("# Branches\n\n## Naming\n\nHere's an example of a branch naming convention:\n\n"
            "```plaintext\nfeature/<user alias>/<work item ID>-<short description>\n```\n\n"
            "## Setup\n\nThe installer script looks like this.\n\n```bash\nset -e\napt-get update\n"
            "apt-get install -y git\npip install pre-commit\npre-commit install\n```\n")
    chunks = chunk_document(Document(source="b.md", title="Branches", text=text))
    naming = next(c for c in chunks if c.section == "Naming")
    example = "feature/<user alias>/<work item ID>-<short description>"
    assert example in naming.units  # citable ...
    assert naming.unit_items[naming.units.index(example)] >= 0  # ... as the item the lead-in brings
    assert not any("apt-get" in u for c in chunks for u in c.units)  # a script is shown, never quoted


def test_a_code_block_keeps_its_fences_and_loses_an_items_indentation():
    """A chunk shows a code block as its page does, fenced with its language, so that an answer can quote
    it whole; one indented under a list item is dedented, its own inner indentation kept."""
    text = ("# Hooks\n\n## Setup\n\n1. Add a config file:\n\n    ```yaml\n    repos:\n      - repo: black\n"
            "    ```\n\n2. Each developer can then run\n\n    ```sh\n    pre-commit install\n    ```\n")
    (chunk,) = chunk_document(Document(source="h.md", title="Hooks", text=text))
    assert "```yaml\nrepos:\n  - repo: black\n```" in chunk.text
    assert "```sh\npre-commit install\n```" in chunk.text


def test_a_page_that_is_one_markdown_template_is_read_as_markdown():
    template = ("# Pull Request Template\n\n```markdown\n# [Work Item ID](./link)\n\n## Description\n\n---\n\n"
                "> Should include a concise description of the changes.\n\n## PR Checklist\n\n---\n\n"
                "- [ ] I have updated the documentation accordingly.\n- [ ] I have added tests to cover my changes.\n"
                "- [ ] I ran the lint checks which produced no new errors.\n```\n")
    chunks = chunk_document(Document(source="t.md", title="Pull Request Template", text=template))
    checklist = [u for c in chunks if c.section.endswith("PR Checklist") for u in c.units]
    assert "I have added tests to cover my changes." in checklist
    assert not any(u.strip("-* ") == "" for c in chunks for u in c.units)  # a rule ("---") is no unit
    # A short Markdown example inside a page stays an example: shown, never quoted.
    page = ("# Docs site\n\n## Landing page\n\nThe landing page introduces the site and links the guides. "
            "Write it for a newcomer, keep it short, and link the setup guide first.\n\n"
            "Here is how a team wrote theirs.\n\n```md\n# Team Docs\n\nWelcome to the team documentation.\n```\n\n"
            "## Build\n\nThe build compiles the site with the companion tools.\n")
    chunks = chunk_document(Document(source="d.md", title="Docs site", text=page))
    assert not any("Welcome to the team" in u for c in chunks for u in c.units)
    assert [c.section for c in chunks if "companion tools" in c.text] == ["Build"]


def test_a_quotation_stays_one_sentence():
    text = ('The meeting answers "Imagine the project has failed. What caused this failure?" '
            "Then the team acts on it.")
    assert split_sentences(text) == ['The meeting answers "Imagine the project has failed. What caused this failure?"',
                                     "Then the team acts on it."]
    # A stray quote mark glues a few sentences at most, never the rest of a long paragraph.
    stray = 'An odd " mark here. ' + " ".join(f"Sentence number {i} says a few more words here." for i in range(20))
    assert len(split_sentences(stray)) > 10


NESTED = """# Recovery

## Implementations

Here are some examples:

- **Cloud Backups**: Store copies of data in another region.
- **Failover and Redundancy**:
  - **Hot Site**: A running duplicate of the primary site.
  - **Cold Site**: Infrastructure without active systems.
- **Snapshots**: Take regular snapshots of machines.
- Harden the images before they ship anywhere. Avoid installing these tools:

    - Shells: sh, bash.
    - Compilers and debuggers.
"""


def test_nested_list_items_are_units_of_their_own_and_keep_their_depth():
    """A sub-item (two spaces, or four after a blank line) is an item of its own, shown indented under
    its parent; before, a four-space one was glued into its parent's text."""
    [chunk] = chunk_document(Document(source="r.md", title="Recovery", text=NESTED))
    lines = chunk.text.split("\n")
    assert "- Failover and Redundancy:" in lines
    assert "  - Hot Site: A running duplicate of the primary site." in lines
    assert "  - Compilers and debuggers." in lines
    assert "- Snapshots: Take regular snapshots of machines." in lines
    items = dict(zip(chunk.units, chunk.unit_items))
    assert items["Hot Site: A running duplicate of the primary site."] != items["Failover and Redundancy:"] >= 0
    assert "Shells: sh, bash." in items and "Avoid installing these tools:" in items
    assert not any("Shells" in u and "Avoid" in u for u in chunk.units)


def test_an_indented_list_outside_a_list_is_still_code():
    text = "# T\n\nSome prose here.\n\n    - not an item, an indented code line\n"
    [chunk] = chunk_document(Document(source="t.md", title="T", text=text))
    assert chunk.kind == "text" and not any(i >= 0 for i in chunk.unit_items)


def test_a_bold_label_over_a_list_is_a_heading_in_all_but_markup():
    """"**Goals**" alone on its line, then a list: the items are about "Retrospectives > Goals" (and are
    embedded so); a bold label with a colon over prose ("**Date:**") stays a unit of its section."""
    text = ("# Ceremonies\n\n## Retrospectives\n\n**Goals**\n\n- Retrospectives lead to actionable items.\n"
            "- They ask the hard questions when necessary.\n\n**Suggestions**\n\n- Consider other retro formats.\n\n"
            "## Records\n\n**Date:**\n\nThe date the decision was made.\n")
    chunks = chunk_document(Document(source="c.md", title="Ceremonies", text=text))
    sections = {c.section: c.units for c in chunks}
    assert sections["Retrospectives > Goals"] == ("Retrospectives lead to actionable items.",
                                                  "They ask the hard questions when necessary.")
    assert sections["Retrospectives > Suggestions"] == ("Consider other retro formats.",)
    assert "Date:" in " ".join(sections["Records"])  # the next real heading ends the label's scope


def test_an_emphasised_term_over_its_description_reads_as_a_label():
    """"1. *Diagram*" then, indented, what it means: one item, "Diagram: Capture ...", not "Diagram Capture
    ..."; an item that merely opens in bold keeps its words as they are."""
    text = ("# Threats\n\n## Phases\n\n1. *Diagram*\n    Capture all requirements and draw a data-flow diagram\n"
            "2. **Identify**\n    Apply a framework to find security issues.\n3. **Mitigate** each issue with controls.\n")
    [chunk] = chunk_document(Document(source="t.md", title="Threats", text=text))
    assert chunk.units[:2] == ("Diagram: Capture all requirements and draw a data-flow diagram",
                               "Identify: Apply a framework to find security issues.")
    assert "Mitigate each issue with controls." in chunk.units


def test_a_block_quote_is_read_as_what_it_quotes():
    """"> 1. **Step:** ..." is a list item, "> Note: ..." a sentence; no "> >" reaches a unit, and the
    spans still point at the quoted text in the document."""
    text = ("# Guide\n\n## Quick Start\n\n> **TLDR;**\n>\n> For a quick start, follow these steps:\n>\n"
            "> 1. **Portal:** Create a project in the portal.\n> 2. **Pipeline:** Run the sample pipeline once.\n>\n"
            "> > Note: The pipeline needs a service connection.\n")
    chunks = chunk_document(Document(source="guide.md", title="Guide", text=text), min_words=1)
    units = [u for c in chunks for u in c.units]
    assert not any(">" in u for u in units), units
    items = [u for c in chunks for u, item in zip(c.units, c.unit_items) if item >= 0]
    assert any(u.startswith("Portal:") or "Create a project in the portal." in u for u in items), items
    assert "Note: The pipeline needs a service connection." in units
    for c in chunks:
        assert "Create a project" not in c.text or "Create a project" in text[c.start:c.end]


def units_of(text: str) -> list[str]:
    """Every citable unit of a small document, chunked as the indexer does."""
    return [u for c in chunk_document(Document(source="d.md", title="D", text=text), min_words=1) for u in c.units]


def test_a_sentence_without_its_colon_above_a_list_is_its_lead_in():
    units = units_of("# Checklist\n\n## C#\n\nYou should also look for these specific review items\n\n"
                     "- Is dependency injection set up correctly?\n- Are magic numbers explained?\n\n"
                     "## Notes\n\nKeep the list short\n\nShort lists get read.\n\nThe records come first,\n\n"
                     "- one a line.\n")
    assert "You should also look for these specific review items:" in units
    assert "Keep the list short" in units  # a paragraph follows it, not a list
    assert not any(u.endswith(",:") for u in units)  # a sentence running on into its list is no lead-in


def test_a_sentence_announcing_a_set_above_a_list_is_its_lead_in():
    units = units_of("# Load\n\n## Parts\n\nA load test needs planning. There are a number of basic components that "
                     "are required to run one.\n\n- A load generator.\n- A target.\n\n## Notes\n\nThere are some "
                     "caveats.\n\nThey are below.\n\nWe keep two lists.\n\n- one a line.\n")
    assert "There are a number of basic components that are required to run one:" in units
    assert "There are some caveats." in units  # a paragraph follows it, not a list
    assert "We keep two lists." in units  # it says nothing is listed next


def test_a_sentence_ending_on_a_dash_above_a_list_is_its_lead_in():
    units = units_of("# Errors\n\n## Custom\n\nOften we need our own types. The advantages of using custom errors "
                     "are -\n\n- Name the business case.\n- Carry the data context.\n\n## Ranges\n\n"
                     "Retries run from 1 -\n\nTen is the cap.\n\nThe usual span is 3 - 5 retries.\n\n- one a line.\n")
    assert "The advantages of using custom errors are:" in units
    assert "Retries run from 1 -" in units  # a paragraph follows it, not a list
    assert "The usual span is 3 - 5 retries.:" not in units and "The usual span is 3 - 5 retries." in units


def test_a_short_line_ending_on_a_dash_above_a_list_is_its_lead_in():
    units = units_of("# Scanning\n\n## Tools\n\nRecipes and Scenarios -\n\n- detect-secrets finds secrets.\n\n"
                     "Additional Tools -\n\n- CodeQL queries code.\n- Git-secrets blocks commits.\n\n"
                     "Two words\n\n- an item.\n")
    assert "Recipes and Scenarios:" in units and "Additional Tools:" in units
    assert "Two words" in units  # no dash, too short to be read as announcing its list


def test_an_items_last_sentence_above_its_sub_items_is_their_lead_in():
    units = units_of("# Alerts\n\n## Fatigue\n\n- Keep a balance. A general rule of thumb is to follow these "
                     "principles\n  - rules must be simple\n  - unused data is reviewed\n- Tooling Choices\n  - a pager\n")
    assert "A general rule of thumb is to follow these principles:" in units
    assert "Tooling Choices" in units  # a label item is read as one already: no colon forced on it


def test_a_table_cell_with_a_blank_row_name_reads_without_a_dangling_of():
    from assistant.tables import table_chunks

    header = ["", "Scenario", "Action", "Why"]
    body = [["", "For systems sending data", "Use caching", "Less traffic"]] + \
        [["", "", f"Step {i}", ""] for i in range(13)]  # more than 12 rows: one chunk per row
    units = [u for _, us in table_chunks([header] + body, "Checklist") for u in us]
    assert "Action: Step 3" in units and not any(" of :" in u for u in units), units


def test_a_template_row_describing_its_columns_names_no_row():
    """A template's row is a sentence per column ("A one-sentence summary of the decision made."): its
    cells read "Decision Maker: Who made this decision?", not "A one-sentence summary ... of Decision Maker"."""
    from assistant.tables import table_chunks

    header = ["Decision", "Date", "Decision Maker"]
    body = [["A one-sentence summary of the decision made.", "Date the decision was made.", "Who made this decision?"]]
    units = [u for _, us in table_chunks([header] + body, "Decision Log") for u in us]
    assert units == ["Date: Date the decision was made.", "Decision Maker: Who made this decision?"], units
    named = [u for _, us in table_chunks([header, ["Use Postgres", "2024-01-02", "Dana"]], "Decision Log") for u in us]
    assert named == ["Use Postgres of Date: 2024-01-02", "Use Postgres of Decision Maker: Dana"], named


def test_html_entities_read_as_the_characters_they_stand_for():
    from assistant.blocks import plain

    assert plain("Not everything is needed for the CI pipeline&#185; &quot;as is&quot;") == \
        'Not everything is needed for the CI pipeline¹ "as is"'


def test_underscore_emphasis_is_markup_but_snake_case_is_a_name():
    from assistant.blocks import plain

    assert plain("Provide a view of the _application health_.") == "Provide a view of the application health."
    assert plain("Set my_var_name in config_file.py") == "Set my_var_name in config_file.py"
