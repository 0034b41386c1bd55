"""Small talk: greetings, thanks and questions about the assistant itself, answered without retrieval.

A chat user opens with "hi", closes with "thanks" and asks "what can you do?". None of them is a
question for the corpus: answering them from passages quoted a code-review tip on thanking reviewers
for "thanks!" and a template's placeholder lines for "What can you help me with?". Only a message that is
nothing but one of these is small talk; "hi, what is GitOps?" is a question.
"""

from __future__ import annotations

import re

from assistant.domain import DomainProfile

# The answerer an Answer to small talk names: no answerer, no documents.
ANSWERER = "none"

_HELLO = r"(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening|day))( there| all| everyone| team)?"
_GREETING = re.compile(rf"^\W*{_HELLO}\W*$", re.I)
_THANKS = re.compile(r"^\W*((ok(ay)?|great|perfect|nice|cool|awesome)\W+)?(thanks?|thank you|thx|ty|cheers|"
                     r"much appreciated)( (a lot|so much|very much|again))?\W*$", re.I)
_ABOUT_ME = re.compile(r"^\W*(who are you|what are you|what can you do|what do you do|what can you (help|answer)"
                       r"( me)?( with)?|how can you help( me)?|what do you know|what can i ask( you)?|help)\W*$", re.I)
# "Hi, what is GitOps?": a greeting before the question is no part of it ("hi" is no corpus word).
_OPENING = re.compile(rf"^\W*{_HELLO}(\s*[,!.:;-]+\s*(?=\S)|\s+(?=(what|how|why|which|who|when|where|"
                      r"can|could|do|does|is|are|should|would)\b))", re.I)


def without_greeting(message: str) -> str:
    """The message without a greeting that opens it."""
    return _OPENING.sub("", message, count=1)


def is_small_talk(message: str) -> bool:
    """A greeting, a thanks or a question about the assistant, and nothing else."""
    return any(p.match(message) for p in (_GREETING, _THANKS, _ABOUT_ME))


def small_talk(message: str, profile: DomainProfile) -> str:
    """The reply to a greeting, a thanks or a question about the assistant; "" for anything else."""
    if _THANKS.match(message):
        return "You're welcome. Ask me anything else about the documents whenever you like."
    if not is_small_talk(message):
        return ""
    examples = "; ".join(f"\"{q}\"" for q in profile.example_questions[:3])
    scope = (f"I answer questions about {profile.subject} from the indexed documents, citing the passage "
             f"behind every sentence, and I say so when they do not hold the answer.")
    if _GREETING.match(message):
        return f"Hello! {scope} For example: {examples}."
    return f"{scope} Try, for example: {examples}."
