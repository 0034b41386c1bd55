"""Domain profile: everything the engine knows about the subject, in one place a team can replace.

The engine itself knows no subject. What it needs to know about one lives here: the names that
decide what a sentence is about (a sentence saying "X requires Y" cited to a passage about Z is
wrong), how the assistant describes itself, example questions, and the phrases that mark a
sentence as a signpost rather than content. Topics for refusal messages are not listed here: they
are derived from the indexed documents' titles and top-level headings.

A team indexing its own runbooks writes a TOML file with any of these keys and points
`ASSISTANT_DOMAIN_FILE` at it; missing keys keep the defaults below.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

from assistant.errors import UserError
from assistant.text import STOPWORDS, tokens


@dataclass(frozen=True)
class DomainProfile:
    name: str = "The methodology assistant"
    # One phrase, used in prompts, greetings and the empty-question hint.
    subject: str = "software and ML operations methodologies (DevOps, MLOps, ModelOps, DataOps)"
    # Lower-case names of the things the corpus compares. A sentence naming one is about it: the
    # answerer prefers units whose subject matches the question's, the verifier rejects a sentence
    # whose subject is absent from the cited passage, and follow-ups carry the subject over.
    subject_terms: tuple[str, ...] = ("devops", "mlops", "modelops", "dataops", "devsecops", "gitops",
                                      "aiops", "llmops")
    example_questions: tuple[str, ...] = ("Which tools are used in DevOps?", "What are the benefits of ModelOps?",
                                          "How do we detect model drift in production?",
                                          "What should a code review check?")
    # Top-level headings that say nothing about what a document covers: never offered as topics.
    generic_headings: tuple[str, ...] = ("Introduction", "Conclusion", "Summary", "Overview", "Resources",
                                         "References", "See also", "Next steps", "Table of contents")
    # Sentences about the document rather than the topic ("The table below provides ...").
    signpost_patterns: tuple[str, ...] = (r"\bthe table below\b", r"\bthis (article|document|page|section) will\b",
                                          r"\bin the following\b", r"\bwe(’|')ll (discuss|delve|look)\b",
                                          r"\blet(’|')s (delve|dive|look)\b", r"\bhere are\b", r"\bas follows\b",
                                          r"\bthe following\b", r"\btable \d+\.")
    # Sentences that point elsewhere instead of saying something ("See the docs", "Read more on ...").
    pointer_patterns: tuple[str, ...] = (r"^\W*(please\s+)?(see|read more|learn more|for more|more on|more details|click|check out|refer to|"
                                         r"visit|watch|follow (this|the) link)\b",
                                         # "For a lightweight tool set, see Nat Pryce's adr-tools."
                                         r"^\W*for [^.,;]{3,60},\s*(please\s+)?(see|refer to|check out|read)\b",
                                         # "Docs on using the provider here.": the link was the content
                                         r"\bhere\W*$",
                                         # "You can find more information on VFS for Git in the ... document."
                                         r"\b(you|we|readers?) (can|may|will|could) (find|read|learn|get) "
                                         r"(more|additional|further) (information|info|details|guidance|documentation|about)\b",
                                         # "You can read this playbook's article on X for more information on ...",
                                         # "... as well as this section in the article linked above have more details"
                                         r"\b(read|see|check|refer to|consult|visit)\b[^.;]{0,120}\bfor (more|additional|further) "
                                         r"(information|info|details)\b",
                                         r"\b(has|have|contains?|provides?|gives?|offers?) (more|additional|further) "
                                         r"(information|info|details)\b",
                                         # "More information can be found in Pull Requests - Size Guidance."
                                         r"^\W*(more|additional|further) (information|info|details|guidance|documentation) "
                                         r"(can be|is|are) (found|available)\b",
                                         # "The table below provides an overview ...", "Table 1. Comparing ...":
                                         # the table or picture is the content, and it is not in the answer
                                         r"\b(the|this) (table|figure|diagram|image|chart|graph|picture) (below|above)\b",
                                         r"^\W*(table|figure|fig\.) \d+\s*[.:]")
    # What a question calls the corpus, and the verbs asking what it says: a closing question made of these
    # alone ("We've grown past a dozen people. What does the playbook suggest?") asks about the sentence before.
    document_words: tuple[str, ...] = ("playbook", "article", "blog", "post", "document", "documentation", "docs",
                                       "guide", "guidance", "handbook", "corpus", "sources", "you")
    # Kinds of document a question may point at ("what does the article recommend ...", "in the blog post"):
    # each a group of words ("article|blog|post"); a question naming one of a group's words after "the"
    # points at the documents whose path, title or front matter (author, publisher) uses one of them.
    document_kinds: tuple[str, ...] = ("article|blog|post", "playbook")
    request_words: tuple[str, ...] = ("suggest", "recommend", "say", "advise", "propose", "think", "tell",
                                      "mention", "cover", "do", "thoughts", "ideas", "advice", "tips", "here")
    # Verbs by which a question makes the corpus the one who says something ("What does the playbook suggest?").
    saying_words: tuple[str, ...] = ("say", "says", "suggest", "suggests", "recommend", "recommends", "mention",
                                     "mentions", "describe", "describes", "cover", "covers", "list", "lists",
                                     "give", "gives", "warn", "warns", "advise", "advises", "propose", "proposes",
                                     "explain", "explains", "offer", "offers", "tell", "tells", "define", "defines")
    # Sections that list links and references, never answers.
    reference_sections: tuple[str, ...] = ("resources", "references", "see also", "further reading", "links",
                                           "learn more", "additional resources", "more information", "reading")
    # A question asking for a quantity, and the evidence a sentence needs to answer one.
    # "In the blog post, how many ...": the question may open after a clause that sets its scene.
    quantity_question: str = (r"(?:^|[,;:]\s*)\W*(how (much|many|long|old|fast)|what year|when (was|did|were))\b|"
                              r"\bin what year\b|"
                              r"\b(price|pricing|cost of|how much does|percentage|salary|salaries|revenue|"
                              r"version number|latest version|(maximum|minimum|max|min) (?:\S+ )?(number|amount|size|length|count)|"
                              # "What's the minimum Vite version ...": a version number
                              r"(minimum|maximum|min|max|earliest|oldest|lowest|highest|supported) (?:\S+ ){0,2}versions?|"
                              # "What's the recommended retention period?": a length of time
                              r"(?:retention|waiting|grace|trial|notice|review) period|timeout)\b|"
                              # "What is (a) canary release?" asks what a kind of release is, not which one
                              r"\b(which|what)\s+(?!(?:is|are)\s+(?:an?\s+)?[\w-]+\s+(?:release|version)s?\b)"
                              r"((\S+ ){0,2}(version|release)|"
                              # "What is the recommended Kubernetes version ...": a version further on
                              r"(\S+ ){3,4}version)s?\b"
                              # ... but "which version control system", "what release techniques" ask for no number
                              r"(?!\s+(control|management|notes|strateg\w*|pipelines?|branch\w*|candidates?|process\w*|"
                              r"cadence|techniques?|practices?|types?|methods?|approach\w*|patterns?|trains?|schedules?|"
                              r"tools?|planning|flows?|workflows?|gates?|cycles?|options?|steps?|stages?|polic\w+|rules?|"
                              r"guidance)\b)")
    quantity_evidence: str = (r"(?<![A-Za-z])\d+(?:[.,]\d+)*(?![A-Za-z])|[$€£%]|\b(percent|dollars?|euros?|hours?|"
                              r"days?|weeks?|years?|months?|free of charge|minutes?)\b")

    @cached_property
    def signpost(self) -> re.Pattern:
        return re.compile("|".join(f"(?:{p})" for p in self.signpost_patterns), re.I)

    @cached_property
    def names_references(self) -> re.Pattern:
        """A lead-in naming what follows as references: "Product Group Links provided for X:"."""
        return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in self.reference_sections) + r")\b", re.I)

    @cached_property
    def pointer(self) -> re.Pattern:
        return re.compile("|".join(f"(?:{p})" for p in self.pointer_patterns), re.I)

    def without_bare_request(self, question: str) -> str:
        """The question without a closing question that asks only what the corpus says ("... drags on. What
        does the playbook suggest?" -> "... drags on."): its words would match passages about the corpus
        itself ("To reduce the number of mistakes ..." in the playbook's own introduction)."""
        pieces = re.split(r"(?<=[.!?])\s+(?=\S)", question.strip())
        if len(pieces) < 2 or not pieces[-1].endswith("?"):
            return question
        other = [t for t in tokens(pieces[-1]) if not _close(t, self._request_terms)]
        return question if other else " ".join(pieces[:-1])

    @cached_property
    def _request_terms(self) -> frozenset[str]:
        return frozenset(tokens(" ".join(self.document_words + self.request_words)))

    @cached_property
    def _corpus_named(self) -> tuple[re.Pattern, re.Pattern]:
        """("according to the article", "the playbook" before a verb of saying), for without_document_reference."""
        names = "|".join(re.escape(w) for w in self.document_words if w != "you")
        return (re.compile(rf",?\s*\b(?:according to|in|from|within) (?:the|this|our|your) (?:{names})\b"
                           rf"(?=\s*[,?.!]|\s*$)", re.I),
                re.compile(rf"\b(?:the|this|our|your) (?:{names}) (?=([a-z]+)\b)", re.I))

    @cached_property
    def _document_kinds(self) -> list[tuple[re.Pattern, frozenset[str]]]:
        """Per kind of document: the pattern of a question pointing at it, and its group's stemmed words."""
        out = []
        for group in self.document_kinds:
            words = "|".join(re.escape(w) for w in group.split("|"))
            out.append((re.compile(rf"\b(?:the|this|that|our|your|their)\s+(?:[\w/.-]+\s+){{0,3}}?(?:{words})s?(?![\w-])",
                                   re.I), frozenset(t for w in group.split("|") for t in tokens(w))))
        return out

    def document_kinds_named(self, question: str) -> list[frozenset[str]]:
        """The kinds of document the question points at ("the MLOps/DevOps/ModelOps article" -> {article, blog,
        post}), each as its group's stemmed words."""
        return [words for pattern, words in self._document_kinds if pattern.search(question)]

    def without_document_reference(self, question: str) -> str:
        """The question with the corpus named as the one who says something left out ("What does the
        playbook suggest to keep ..." -> "What does it suggest to keep ...", "according to the article"):
        the name matches passages about playbooks and articles, not what this one says. The corpus as the
        thing asked about stays ("Who wrote the article?", "Why did the playbook team pick MkDocs?")."""
        where, speaker = self._corpus_named
        said = frozenset(self.saying_words)
        out = speaker.sub(lambda m: "it " if _close(m.group(1).lower(), said) else m.group(0),
                          where.sub("", question)).strip(" ,")
        return out[:1].upper() + out[1:] if tokens(out) else question

    def is_reference_section(self, section: str) -> bool:
        """The section lists references: its own heading says so ("Resources", "See also"). A section under
        one that a heading of its own names ("Resources > Tools") says what it holds: tools, described."""
        return section.rpartition(" > ")[2].strip().lower() in self.reference_sections

    @cached_property
    def asks_quantity(self) -> re.Pattern:
        return re.compile(self.quantity_question, re.I)

    @cached_property
    def has_quantity(self) -> re.Pattern:
        return re.compile(self.quantity_evidence, re.I)

    def states_amount(self, text: str) -> bool:
        """The text states a quantity that is no year standing alone: "As of late 2025, ..." dates what it
        says; it gives no price, count or duration (a question asking when takes any quantity). A date
        ("Date: 2020-04-08") is no amount either."""
        text = _DATE.sub(" ", text)
        return any(not re.fullmatch(r"(?:19|20)\d\d", m.group(0)) for m in self.has_quantity.finditer(text))

    def amount_test(self, question: str):
        """What a sentence must state to answer this quantity question: "How much does X cost?" a price
        (or that it is free); "How many days ...?" a number of days (or of another time unit), "How many
        circuits ...?" a number of circuits. A number of something else ("2 jobs", "Date: 2020-04-08") is
        no answer. Other quantity questions take any amount."""
        low = question.lower()
        if _ASKS_PRICE.search(low):
            return lambda text: bool(_MONEY.search(text))
        if (asked := _ASKS_VERSION.search(low)) and not _HOW_MANY.search(low):
            # "What's the minimum Vite version?": "3.28.0" or "version 5", not "as of January 2023"; and a
            # version of Vite ("Vite 5", "Vite version 5"), not "GitOps with Flux v2" for a Kubernetes version.
            thing = asked.group(1)
            if not thing or thing in STOPWORDS or thing in _VERSION_WORDS:
                return lambda text: bool(_VERSION.search(text))
            near = re.compile(rf"\b{re.escape(thing)}\w*\W+(?:[\w-]+\W+){{0,3}}?(?:v?\d+(?:\.(?:\d+|x))*\b|{_VERSION.pattern})",
                              re.I)
            return lambda text: bool(near.search(text))
        counted = _HOW_MANY.search(low) or _IN_UNITS.search(low)
        noun = tokens(counted.group(1).split()[-1]) if counted else []
        if not noun or noun[0] in _ANY_COUNT:
            return self.states_amount
        # "How many days ...?" takes weeks or months, not "1 hour": a time unit of the same scale.
        units = next((family for family in _TIME_UNITS if noun[0] in family.split("|")), noun[0])
        said = re.compile(rf"(?<![\w.-]){_NUMBER}(?:[\s-]+[\w-]+){{0,3}}?[\s-]+(?:{units})\w*", re.I)
        return lambda text: bool(said.search(_DATE.sub(" ", text)))

    @cached_property
    def _subjects(self) -> re.Pattern | None:
        terms = "|".join(re.escape(t) for t in self.subject_terms)
        return re.compile(rf"\b({terms})\b") if terms else None

    def subjects_in(self, text: str) -> set[str]:
        """The subject terms a text names (whole words, any case). Scoring calls this per unit: one
        compiled alternation, not a search per term."""
        return set(self._subjects.findall(text.lower())) if self._subjects else set()


_DATE = re.compile(r"\b\d{4}-\d\d-\d\d\b")
# "the minimum Vite version": the word before "version" names whose version is asked ("" when none does).
_ASKS_VERSION = re.compile(r"(?:\b([\w.-]+)\s+)?\b(?:version|release)s?\b")
_VERSION_WORDS = {"minimum", "maximum", "min", "max", "earliest", "oldest", "lowest", "highest", "supported",
                  "latest", "newest", "current", "recommended", "required", "specific", "exact", "which", "what"}
_VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.(?:\d+|x))+\b|\b(?:version|release|v)\s?\d+\b", re.I)
_ASKS_PRICE = re.compile(r"\bhow much\b.*\b(cost|costs|charge|charged|pay|spend)\b|\b(price|pricing|cost of|costs? per)\b")
# "Jenkins is free but ...", "at no cost" state a price; "a free API platform" describes, and no price of a part.
_MONEY = re.compile(r"[$€£]|\b(dollars?|euros?|usd|eur|no cost|no charge|free of charge|for free|costs? nothing|"
                    r"(?:is|are) free(?=\s*(?:[,.;]|$|but\b|and\b|for\b|to\b)))", re.I)
# "How many data scientists does ...": the words after "how many" up to the verb; the last is what is counted.
_HOW_MANY = re.compile(r"\bhow many\s+((?:[\w-]+\s+){0,2}?[\w-]+?)\s+(?:are|is|do|does|did|should|shall|can|could|"
                       r"will|would|were|was|have|has|had|must|might|may|to|in|of|per|for|on|at|we|you|they|i)\b")
# "What is the maximum PR size in lines of code?": the unit the amount is asked in.
_IN_UNITS = re.compile(r"\bin\s+((?:lines|words|characters|bytes|seconds|minutes|hours|days|weeks|months|years))\b")
_ANY_COUNT = {"peopl", "person", "time", "thing", "item", "one", "member", "folk"}
_TIME_UNITS = ("second|minut|hour", "day|week|month|year|sprint|quarter")
_NUMBER = (r"(?:\d+(?:[.,]\d+)*|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
           r"forty|fifty|sixty|ninety|hundreds?|thousands?|dozens?|one|a few|a couple of|single)")


def load_profile(path: Path | None) -> DomainProfile:
    """The default profile, or one read from a TOML file (unknown keys are an error, not ignored)."""
    if path is None or str(path) == "":
        return DomainProfile()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read the domain profile {path}: {exc}") from None
    known = {f.name: f.type for f in fields(DomainProfile)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UserError(f"{path}: unknown domain profile keys {unknown}; known: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    if "subject_terms" in values:
        values["subject_terms"] = tuple(t.lower() for t in values["subject_terms"])
    profile = DomainProfile(**values)
    for pattern in (*profile.signpost_patterns, *profile.pointer_patterns, profile.quantity_question,
                    profile.quantity_evidence):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UserError(f"{path}: bad pattern {pattern!r}: {exc}") from None
    return profile


def _close(word: str, known: frozenset[str]) -> bool:
    """The word is one of `known`, or a typing slip of one ("recomend", "sugest"): people type fast."""
    import difflib  # only for a word that is not known: ~1 ms off every process' import

    return word in known or (len(word) > 4 and bool(difflib.get_close_matches(word, known, n=1, cutoff=0.85)))
