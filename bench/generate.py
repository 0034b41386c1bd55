"""Bench corpora: documents recombined from the sentences of the shipped article and the engineering
playbook, sized to a target number of chunks (seeded, so every run builds the same corpus)."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

from assistant.text import split_sentences
from assistant.config import PROJECT_ROOT
from assistant.corpus import load_corpus

WORDS_PER_SECTION = 110  # one chunk per section with the default chunker settings


def sentence_pool(limit: int = 3000, seed: int = 13) -> list[str]:
    """Prose sentences (8-40 words, no Markdown syntax) from the article and the playbook."""
    pool: list[str] = []
    for folder in (PROJECT_ROOT / "corpus",):  # the article and the shipped playbook
        if not folder.is_dir():
            continue
        docs, _ = load_corpus(folder)
        for doc in docs:
            for block in doc.text.split("\n\n"):
                if block.lstrip().startswith(("#", "|", "```", "-", "*", "!", "<", ">")):
                    continue
                for sentence in split_sentences(" ".join(block.split())):
                    if 8 <= len(sentence.split()) <= 40 and not re.search(r"[\[\]`|<>*_]|https?:", sentence):
                        pool.append(sentence)
    pool = list(dict.fromkeys(pool))
    random.Random(seed).shuffle(pool)
    return pool[:limit]


def generate(dest: Path, chunks: int, pool: list[str], seed: int = 42, sections_per_doc: int = 10) -> Path:
    """Write about `chunks` chunks of recombined prose into dest (the shipped article included)."""
    rng = random.Random(seed)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "corpus" / "mlops-devops-modelops.md", dest)
    remaining, doc_no = max(0, chunks - 25), 0
    while remaining > 0:
        sections = min(sections_per_doc, remaining)
        lines = [f"# Generated operations note {doc_no}", ""]
        for s in range(sections):
            lines += [f"## Topic {doc_no}.{s}", ""]
            paragraph, words = [], 0
            while words < WORDS_PER_SECTION:
                sentence = rng.choice(pool)
                paragraph.append(sentence)
                words += len(sentence.split())
            lines += [" ".join(paragraph), ""]
        (dest / f"note-{doc_no:06d}.md").write_text("\n".join(lines))
        remaining -= sections
        doc_no += 1
    return dest
