"""Guard: spot instruction-like text planted in documents (prompt injection, OWASP LLM01)."""

from __future__ import annotations

import re

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|context|above|previous|prior)\b"
    r"|\b(system prompt|developer message|jailbreak|you are now|act as|pretend to be|new instructions)\b"
    r"|\b(reply|respond|answer|say|output|print)\b.{0,20}\b(only|exactly|verbatim)\b.{0,20}[\"'“‘]"
    r"|\bas an ai\b|\bDAN\b"
    # Asking the model about itself: "the hidden configuration you were given", "your system prompt".
    r"|\byou (were|have been) (given|told|instructed|configured)\b|\byour (system )?(prompt|instructions|configuration)\b"
    # A role prefix addresses the model, not the reader: "SYSTEM: ...", "Assistant: ...".
    r"|^\W*(system|assistant|developer|user)(\s+(override|message|prompt|note))?\s*:",
    re.I | re.S,
)


def looks_like_injection(text: str) -> bool:
    """True for sentences that address the model instead of informing the reader. They are never
    quoted as answers and are masked in prompts; the passage itself stays citable and visible."""
    return bool(_INJECTION.search(text))


def mask_injections(text: str) -> str:
    from assistant.chunking import split_sentences

    return " ".join("[instruction-like text removed]" if looks_like_injection(s) else s
                    for s in split_sentences(text)) if looks_like_injection(text) else text
