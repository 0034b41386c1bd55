"""Grammar (offline): what a question asks for (a set, a comparison, a definition) and what a unit's shape says."""

from __future__ import annotations

import re

from assistant.domain import DomainProfile
from assistant.text import STOPWORDS, tokens

_WHY = re.compile(r"^\W*why\b", re.I)
# "Why should we define custom exceptions?", "Why bother writing tests?": a reason to do something, which
# a list of advantages gives ("The advantages of using custom exceptions are:"); "Why is the data part
# hard?" asks what makes it so, which such a list does not say.
_WHY_DO = re.compile(r"^\W*why\s+(?:(?:should|would|do|must|might|could|can|shall)\s+(?:we|i|you|one|teams?|"
                     r"a team|our team|my team)|bother|use|adopt|choose|pick|go with)\b", re.I)
REASONS = frozenset({"advantag", "benefit", "reason", "pros"})
# "When is a trade study not worth doing?", "In what situation would ...?": a condition, which a unit states
# with a conditional clause ("... should be avoided if there is a clear solution choice"); "When was it
# published?" asks for a date (a quantity), not a condition.
# "ok, so when is it worth ...?", "And when should we ...?": a filler word may open the question.
_WHEN_COND = re.compile(r"^\W*(?:(?:ok(?:ay)?|so|and|but|then|alright|right)\b[\s,]*)*(?:when\s+(?:should|is|are|do|does|would|can|must|might|could|"
                        r"shall|will|to)\b|(?:in|under)\s+what\s+(?:situations?|cases?|circumstances?|conditions?)\b)",
                        re.I)
# A bare "when" opens too many sentences that state no condition ("When choosing to implement X, ...").
CONDITION = re.compile(r"\b(?:if|whenever|unless|any ?time|as soon as|in case|only (?:when|after|if))\b", re.I)
# "Should we keep encrypted secrets in the repo or point to an external vault?", "Does the team prefer A or
# B?", "Is it better to ...?": advice, which a unit gives by recommending ("TLDR: Referencing secrets in an
# external key vault is the recommended approach.").
_ASKS_ADVICE = re.compile(r"(?:^|[?,;]\s*)\W*(?:should|shall|must)\s+(?:we|i|you|one|teams?|our team|my team)\b|"
                          r"\b(?:recommend\w*|prefer\w*|is it better|which is better|advis\w+)\b", re.I)
ADVICE = re.compile(r"\b(?:recommend(?:ed|s|ation)?|preferred|prefer(?:s|able)?|advis(?:e|ed|able)|suggest(?:s|ed)?|"
                    r"best (?:option|approach|choice|way|practice)|tl;?dr)\b", re.I)
# "How do we keep it manageable?", "What's the workaround?", "What can we do about it?": a way to do
# something, which a page gives after the problem it solves ("There are 2 areas where complexity can result
# in an overly crowded Sequence Diagram ..." then "consider creating separate sub-scenario diagrams").
_ASKS_METHOD = re.compile(r"^\W*(?:(?:ok(?:ay)?|so|and|but|then|alright|right)\b[\s,]*)*(?:how\s+(?:(?:do|can|could|"
                          r"should|would|might|shall)\s+(?:we|i|you|one|teams?|our team|my team)|to)\b|"
                          r"what(?:'s|\s+is|\s+are)?\s+(?:the|a|our|my)?\s*(?:workarounds?|fix|fixes|remed(?:y|ies)|"
                          r"solutions?|ways?)\b|what\s+(?:can|could|should|do)\s+(?:we|i|you)\s+do\b|"
                          r"what\s+(?:does|do|would)\s+(?:\S+\s+){1,3}?(?:suggest|recommend|advise|propose)\b)", re.I)
# "What is a release train?", "What are feature flags?": a question asking what a term is; answered first by
# the sentence that says so ("A release train is a fixed schedule that ...").
_DEFINE = re.compile(r"^\W*what(?:\s+is|\s+are|'s)\s+(?:an?\s+|the\s+)?([^?,;:]{1,60}?)\s*\??\s*$", re.I)
# A question about a topic as a whole ("Tell me about code reviews.", "What does the playbook say about dev
# containers?"): answered, like "What is X?", by what X is first.
_TOPIC = re.compile(r"^\W*(?:tell me (?:more )?about|explain|describe|give me an overview of|what can you tell me about|"
                    r"what (?:does|do) (?:the|our|this|your) [\w-]+ say about)\s+(?:an?\s+|the\s+)?"
                    r"([^?,;:]{1,60}?)\s*[?.!]?\s*$", re.I)
_ANAPHOR = re.compile(r"^(it|its|they|their|them|this|these|those|that|he|she|such)\b", re.I)
# "Additionally, caching may allow unauthorized users ...": the sentence adds to the argument before it.
GOES_ON = re.compile(r"^(additionally|moreover|furthermore|in addition|besides|also)\b,?", re.I)
# Two or more names in a row, as prose lists them: "Bitnami Sealed Secrets, Mozilla SOPS", "Flux and Argo CD".
_NAMES = re.compile(r"\b[A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)*\s*(?:,|\band\b|\bor\b)\s*(?:and\s+|or\s+)?[A-Z][\w.-]*")
# A sentence whose subject is a personal pronoun names it in the sentence before ("One linter we
# recommend is woke. It is a language-agnostic CLI tool ..."; "When paired with Codespaces, it presents
# ..."): the pronoun opens it, maybe after an opening clause; "This document ..." names its own.
_PRONOUN = re.compile(r"^(?:(?:when|if|once|after|before|while|although|though|because|since|unless|however|"
                      r"additionally|also|moreover|furthermore|in addition|as a result|for example)\b[^,.;:]{0,80},\s*)?"
                      r"(it|its|they|their|them|he|she|his|her)\b", re.I)
# "As its significance becomes more evident, an increasing number of organizations ...": a clause whose subject
# is a pronoun leans on an earlier sentence, as a sentence opening with one does.
_LEANING_CLAUSE = re.compile(r"^(?:as|while|since|because|although|though|when|whenever|if|once|after|before|given)\s+"
                             r"(?:its|their|it|they|it's|this|these)\b(?!\s+comes?\s+to\b)", re.I)
# "With this setting only newly introduced issues are flagged": a phrase pointing back at what the sentence
# before set up ("... using the --new-from-rev COMMITID."), which it needs to be understood.
_POINTS_BACK = re.compile(r"^(?:with|in|by|for|under|using|after|through)\s+(?:this|these|those|such)\s+[a-z]", re.I)
# A contrast leans on what it contrasts with, said in the sentence before: "Canary releases, on the other
# hand, ...", "In contrast, ...", "However, ...".
_CONTRAST = re.compile(r"^(?:(?:however|in contrast|by contrast|conversely|on the other hand)\b|"
                       r"[^,.;:]{1,60},\s+(?:on the other hand|in contrast|by contrast|however)\b)", re.I)
# A sentence that states a difference: what a comparison question asks for.
# "X, on the other hand, ..." says only one side (the other is in the sentence before: _CONTRAST).
# ", while the project itself should include ...": a clause set against the one before it.
_DIFFERENCE = re.compile(r"\b(?:differences?|differs?|whereas|unlike|in contrast to|by contrast to|instead of|rather than|"
                         r"as opposed to|compared (?:to|with))\b|,\s+while\s+(?:the|a|an|its|their|our|it|they|we)\b", re.I)
_ASKS_TABLE = re.compile(r"\b(table|compar\w*)\b", re.I)
# Who did something, as English says it: "written by Tonye Harry", "as described by Michael Nygard",
# "Michael Nygard proposed ...". Any capitalised word would also take "Configuration Management".
_NAME = r"[A-Z][\w.&'-]*(?:\s+(?:[A-Z][\w.&'-]*|of|de|van|von))*"
_AGENT = re.compile(rf"\bby\s+(?:the\s+)?{_NAME}|\b[A-Z][\w.-]+\s+[A-Z][\w.-]+\s+(?:wrote|writes|proposed|proposes|"
                    r"said|says|puts it|described|describes|created|creates|coined|founded|introduced|developed|"
                    r"published|authored|maintains|maintained)\b")
# A template's blank to fill in ("Authors: [Author1, Author2, etc.]"); Markdown links are gone by now.
_PLACEHOLDER = re.compile(r"\[[^\[\]]{1,80}\]")


def _subject(unit: str, section: str, profile: DomainProfile) -> set[str]:
    """What a unit is about: the subjects its label names ("Key Tools of Approach A: ..."), else those
    its text names, else its section's."""
    head, colon, _ = unit.partition(": ")
    named = profile.subjects_in(head) if colon and len(head.split()) <= 8 else set()
    return named or profile.subjects_in(unit) or profile.subjects_in(section.split(" > ")[0])


_AUX = frozenset("is are was were be does do did has have had can could will would should must may might "
                 "go goes help helps need needs make makes get gets".split())
_DETERMINER = frozenset("a an the our my your this that these those its their".split())


def asked_kind(question: str) -> str | None:
    """The plural thing a question asks for ("Which linters and formatters ...", "What are the main
    components of ...", "What kinds of software ..."): its stem, "" for kinds/types/ways (a set, no
    noun to match), None when the question asks for no set. Grammar, not a phrase list: the first
    plural noun after what/which, before the verb."""
    m = re.match(r"^\W*(?:what|which)\s+(?:(?:are|were)\s+(?:the\s+|some\s+|all\s+)?)?(.*)", question, re.I)
    # "We need customer data. Instead of working on production data, what approaches should we use?": the
    # question asked is its last clause, when that one asks what or which.
    # After a comma "what" opens a question, and "which" with a noun and an auxiliary ("If we add a mesh, which
    # metrics do we get?"): ", which runs nightly" is a relative clause. After a colon it asks about what
    # precedes ("Direct-write vs agent-based: what are the trade-offs?"), no set.
    last = re.search(r"(?:[.?!;]\s+|,\s+(?=what\b|which\s+[\w-]+(?:\s+[\w-]+)?\s+(?:do|does|did|are|is|were|was|"
                     r"can|could|should|would|will|must|might)\b))((?:what|which)\s[^.?!]*\?)\s*$", question, re.I)
    if not m and last:
        return asked_kind(last.group(1))
    if not m:
        # "List the branching strategies ...", "Name three tools for ...": a set asked for by a command.
        command = re.match(r"^\W*(?:please\s+)?(?:list|name|enumerate|give me|show me)\s+(?:the\s+|all\s+(?:the\s+)?|"
                           r"some\s+|a few\s+|(?:\d+|two|three|four|five)\s+)?(.*)", question, re.I)
        return asked_kind(f"which {command.group(1)}") if command else None
    found = list(re.finditer(r"[A-Za-z][A-Za-z0-9-]*", m.group(1)))[:6]
    words = [w.group(0) for w in found]  # "E2E", "K8s": one name each
    # Words run on in one noun phrase when only a space parts them ("chaos engineering tools", not
    # "linters / static analysis tools").
    spaced = [found[k + 1].start() > found[k].end() and not m.group(1)[found[k].end():found[k + 1].start()].strip()
              for k in range(len(found) - 1)]
    if len(words) > 1 and words[1].lower() in _DETERMINER:
        return None  # "What makes a staging environment ...": the first word is the verb
    for i, word in enumerate(words):
        low = word.lower()
        if low in _AUX:
            return None
        if any(c.isupper() for c in word):
            continue  # a name ("Which GitOps tools", "Which Kubernetes tools"), not the plural asked for
        if _plural(low):
            if low not in STOPWORDS:
                # The noun phrase's head is its last word: "Which chaos engineering tools ...": tools.
                j = i
                while j + 1 < len(words) and spaced[j] and words[j + 1].islower() and words[j + 1] not in STOPWORDS \
                        and words[j + 1] not in _AUX:
                    j += 1
                head = next((w for w in reversed(words[i + 1:j + 1]) if _plural(w)), low)
                return (tokens(head) or [""])[0]
            # "What kinds of failover sites ...": the set is of sites; "kinds of software": no plural to match.
            if i + 1 < len(words) and words[i + 1].lower() == "of":
                return asked_kind("what " + " ".join(words[i + 2:])) or ""
            return ""
    return None


def kind_modifiers(question: str, kind: str) -> set[str]:
    """The words that narrow the set asked for, right before its noun ("Which dependency scanning tools":
    {dependency, scan}); empty when the noun stands alone ("What guidelines should ...")."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9-]*|[^\sA-Za-z]", question)
    for i, word in enumerate(words):
        if tokens(word) == [kind]:
            before = []
            for w in reversed(words[:i]):
                if not re.match(r"[A-Za-z]", w) or w.lower() in STOPWORDS or w.lower() in ("what", "which"):
                    break
                before.extend(tokens(w))
            return set(before)
    return set()


def describes_as(name: str, text: str, kind: str) -> bool:
    """A section's first sentence says what its heading names is of the kind asked for ("CircleCI is a free
    service ..." under "### CircleCI", for "which CI services ..."): the name and the kind in one sentence."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    said = set(tokens(first))
    return kind in said and bool(tokens(name)) and set(tokens(name)) <= said


# "Apart from Azure Pipelines, which CI services ...": members the question already has, left out of the set.
_EXCEPT = re.compile(r"\b(?:apart from|aside from|other than|besides|except(?: for)?|excluding|not counting)\s+"
                     r"([^,?;:]+?)(?=\s*(?:[,?;:]|$|\s(?:which|what|how|are|is|do|does)\b))", re.I)


def excluded_members(question: str) -> set[str]:
    """The words of what a set question excludes ("Apart from Azure Pipelines, which ...": {azur, pipelin})."""
    return {t for m in _EXCEPT.finditer(question) for t in tokens(m.group(1))}


def _plural(word: str) -> bool:
    low = word.lower()
    return len(low) > 3 and low.endswith("s") and not low.endswith(("ss", "us", "is"))


# The two things a question compares, as English asks it: "X vs Y", "the difference between X and Y",
# "How is X different from Y", "compare X with Y", "X or Y? How do they compare".
_SIDES = (
    re.compile(r"^(?:\W*(?:what|which|how)\b[^:?]*?\b(?:is|are|for|in)\s+)?(.+?)\s+(?:vs\.?|versus)\s+([^:?]+)", re.I),
    re.compile(r"\bdifferen\w*\s+between\s+(.+?)\s+and\s+([^:?]+)", re.I),
    re.compile(r"\bhow\s+(?:is|are|does|do)\s+(.+?)\s+differ\w*\s+(?:from|to)\s+([^:?]+)", re.I),
    re.compile(r"\bhow\s+(?:is|are|does|do)\s+(.+?)\s+compare\w*\s+(?:with|to|against)\s+([^:?]+)", re.I),
    re.compile(r"\bcompar\w*\s+(.+?)\s+(?:with|to|and|against)\s+([^:?]+)", re.I),
)
_OR_SIDES = re.compile(r"(\S+(?:\s+\S+)?)\s+or\s+(\S+(?:\s+\S+)?)\s*\?", re.I)


def compared_sides(question: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """The stems that tell the two compared things apart ("Blue-green vs canary releases" ->
    {blue, green}, {canari, releas}); None when the question compares nothing or the sides share all
    their words. Words both sides use ("log" in "direct-write logging vs agent-based log collection")
    tell nothing apart and are dropped."""
    for pattern in _SIDES:
        if m := pattern.search(question):
            break
    else:
        m = _OR_SIDES.search(question) if re.search(r"\b(compar\w*|differ\w*|which|should)\b", question, re.I) else None
    if not m:
        return None
    left, right = m.group(1).split(), m.group(2).split()
    if len(right) > len(left):
        right = right[:len(left)]  # "top-down vs bottom-up integration testing": the noun is both sides'
    a, b = set(tokens(" ".join(left))), set(tokens(" ".join(right)))
    a, b = a - b, b - a
    return (frozenset(a), frozenset(b)) if a and b else None


def _about(side: frozenset[str], other: frozenset[str], terms: set[str]) -> bool:
    """A unit (its words and its heading's) is about a compared side when it uses at least half that
    side's stems, and a larger share of them than of the other side's."""
    share = len(side & terms) / len(side)
    return share >= 0.5 and share > len(other & terms) / len(other)


# "X is ...", "X refers to ...", and a glossary's "X: The delay between a request and its response."
# A dash after a short name defines it too: "Pair programming ("pairing") - two engineers on one story".
# "Swarming is done when ..." is passive: it says when, not what swarming is.
_DEFINING = re.compile(r"\s+(?:(?:is|are)(?!\s+(?:not\s+)?(?:done|used|made|seen|given|taken|run|built|shown|"
                       r"written|known|needed|required|performed|conducted|applied|triggered|executed|created)\b)|refers to|means|stands for)\s+|:\s+(?=(?:the|a|an)\s)|\s+[-–—]\s+", re.I)


def _defines(unit: str, term: list[str]) -> bool:
    """The unit says what `term` (its stems) is: it opens with the term, then "is", "are", "refers to"
    or "means" follows within a few words (or a colon and an article: "Latency: The delay ...")."""
    head = _DEFINING.split(unit, maxsplit=1)
    # "Canary releasing, on the other hand, is ..." defines it; "Blue-green and canary releasing are" neither.
    return len(head) == 2 and tokens(head[0])[:len(term)] == term and len(head[0].split()) <= len(term) + 4


def _defines_side(unit: str, side: frozenset[str]) -> bool:
    """The unit says what one compared thing is: "Blue / Green is a deployment technique ...", "Push
    metrics means that ..." (its opening words, before "is" or "means", are that side's words)."""
    if m := re.match(r"^(?:in the case of|with|for)\s+([^,]{1,60}),", unit, re.I):
        return side <= set(tokens(m.group(1)))  # "In the case of pull metrics, each component publishes ..."
    head = _DEFINING.split(unit, maxsplit=1)
    return len(head) == 2 and len(head[0].split()) <= len(side) + 4 and side <= set(tokens(head[0]))


def _criterion(cell: str, head: bool = False) -> set[str]:
    """The stems of a table cell's criterion: "Key Tools of Approach A: Jenkins" -> {key, tool}; with
    `head`, its noun alone ({tool}): "key" is no column a question names."""
    stems = tokens(cell.partition(": ")[0].rsplit(" of ", 1)[0])
    return set(stems[-1:] if head else stems)


def _title_like(unit: str) -> bool:
    """A heading or link title standing alone ("Pull Request Template", "Blue vs. Green"): a few words,
    no full stop, every longer word capitalised. It names a thing; it says nothing about it."""
    text = unit.strip()
    words = text.split()
    long = [w for w in words if len(w) > 3]
    return 0 < len(words) <= 5 and not text.endswith((".", "!", "?")) and bool(long) \
        and all(w[0].isupper() for w in long)


# Where a question asks a second thing: "..., and how do we test them?", "...? Why?", "...; where do ADRs go?"
_AUX_RE = r"(?:is|are|can|could|do|does|did|should|would|will|was|were|has|have|must|might)"
# Where one question ends and the next begins: "? ", "; ", ", and how ...", "... and when should I ...",
# and the end of a statement before a question ("Our designers keep huge files in the repo. What ...").
_PART_BREAK = re.compile(r"\?\s+(?=\S)|;\s+|(?<=[a-z)])\.\s+(?=[A-Z])|,\s+and\s+(?=(?:how|what|where|when|why|which|who|whom|"
                         r"is|are|can|could|do|does|should|would|will)\b)"
                         rf"|\s+and\s+(?=(?:how|what|where|when|why|which|who)\s+{_AUX_RE}\b)", re.I)


_ASKS = re.compile(r"^\W*(?:how|what|where|when|why|which|who|whom|whose|is|are|can|could|do|does|did|should|would|"
                   r"will|was|were|has|have)\b", re.I)
_PRONOUN_IN = re.compile(r"\b(?:it|its|they|them|their|this|that|these|those|one|ones)\b", re.I)


def question_parts(question: str) -> list[str]:
    """The questions a question asks, when it asks more than one ("Who proposed the ADR format, and where
    do ADRs normally go?" -> two); [question] otherwise. A part without a content word ("Why?")
    leans on the one before and is not a part of its own."""
    pieces = [p.strip() for p in _PART_BREAK.split(question.strip()) if p and p.strip()]
    parts: list[str] = []
    # A statement before a question ("My training loop is slow; how can I ...") is its context, and the
    # context of the questions after it ("Our designers keep huge files in the repo. What should we use,
    # and what are the catches?": the catches of what they do).
    context = ""
    for piece in pieces:
        if not (piece.endswith("?") or _ASKS.match(piece)):
            context = f"{context} {piece}".strip()
            continue
        parts.append(f"{context} {piece}".strip())
    parts = [p for p in parts if tokens(p)]
    if len(parts) < 2:
        return [question]
    # "..., and how can we cut it down?": a later part's pronoun is the first part's subject.
    subject = " ".join(w for w in re.findall(r"[\w-]+", parts[0]) if tokens(w))
    return parts[:1] + [f"{p} ({subject})" if _PRONOUN_IN.search(p) else p for p in parts[1:]]


def scene_and_ask(question: str) -> tuple[str, str]:
    """(the statements setting a question's scene, the one question asked after them): "Thinking of adding a
    social question to our stand-ups." and "What makes a question a good one?"; ("", "") when nothing comes
    before the question, or several questions are asked."""
    pieces = [p.strip() for p in _PART_BREAK.split(question.strip()) if p and p.strip()]
    asking = [i for i, p in enumerate(pieces) if p.endswith("?") or _ASKS.match(p)]
    if len(pieces) < 2 or not asking or asking != list(range(asking[0], len(pieces))) or asking[0] == 0:
        return "", ""
    scene, asked = " ".join(pieces[:asking[0]]), " ".join(pieces[asking[0]:])
    return (scene, asked) if tokens(scene) and tokens(pieces[-1]) else ("", "")


# "What's the Git LFS storage quota on our Git server ...?": the thing asked for is the noun phrase after "the",
# up to the preposition tying it to what it belongs to; its last word ("quota") names what it is.
_THE_THING = re.compile(r"^\W*what(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?:the|a|an|our|its|their)\s+((?:[\w/.+-]+\s+){0,4}?"
                        r"[\w/.+-]+)\s+(?:of|on|in|for|before|after|at|to|with|when|that|which|per|from|under|by)\b", re.I)


def asked_thing(question: str) -> str:
    """The word naming what "What's the X of Y?" asks for ("quota" in "What's the Git LFS storage quota on our
    Git server?"), or "" for any other question."""
    match = _THE_THING.match(question)
    words = tokens(match.group(1)) if match else []
    return words[-1] if words else ""


def asks_for_questions(question: str) -> bool:
    """Questions are the answer: "Which questions should we ask?", and a checklist, which is written
    as questions ("Is the code subject to concurrency issues?")."""
    return bool(re.search(r"\b(questions?|checklists?)\b", question, re.I))


def _introduces_list(unit: str, items: tuple[int, ...], pos: int) -> bool:
    """A lead-in ("Small PRs have multiple advantages:") directly followed by list items."""
    return unit.rstrip().endswith(":") and pos + 1 < len(items) and items[pos + 1] >= 0


def _name_parts(term: str) -> list[str]:
    """The stems of a name's parts: "ML-centric" -> [ml, centric], so that a known part makes it known."""
    return [t for part in re.split(r"[-/.]", term) for t in tokens(part)]


def _label_names(unit: str, kind: str) -> bool:
    """An item whose label ("Hot Site: ...", at most four words before ": ") names the kind asked for."""
    label, colon, _ = unit.partition(": ")
    return bool(kind and colon) and len(label.split()) <= 4 and kind in tokens(label)
