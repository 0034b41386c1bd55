"""Spelling (offline): a question's word that no document uses is read as the corpus word one keystroke away."""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from functools import lru_cache

from assistant.text import STOPWORDS

# Lower-case words of five letters or more: a capitalised word may be a name the corpus lacks ("Crowdin"), which
# is a reason to refuse, not to guess; a short word has too many neighbours to pick one.
_WORD = re.compile(r"(?<![\w/.-])[a-z]{5,}(?![\w/.-])")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _one_slip(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away (the typing slips)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
            | {a + c + b for a, b in splits for c in _LETTERS})


def written_words(text: str) -> set[str]:
    """The words of `text` that `correct` may put in a question: lower-case, five letters or more, as written."""
    return set(_WORD.findall(text.lower()))


@lru_cache(maxsize=1)
def _english():
    try:
        from spellchecker import SpellChecker
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("spelling needs pyspellchecker: pip install pyspellchecker") from exc
    return SpellChecker(distance=1)


def english(word: str) -> bool:
    """Is `word` an English word (pyspellchecker's list)?"""
    return word in _english()


def correct(text: str, frequency: Callable[[str], int], written: Container[str], min_chunks: int = 3,
            known: Callable[[str], bool] = english) -> str:
    """`text` with each word that neither the corpus (`frequency`: in how many chunks a word's stem occurs) nor
    English (`known`) uses replaced by the word one slip away that the corpus writes (`written`) and the most
    chunks use ("scirpts" -> "scripts", "terrafrom" -> "terraform"), or by a common word ("shuold" -> "should").
    A word the documents do not use but English does stays ("bread" is no slip of "break"), as does one with no
    such neighbour in at least `min_chunks` chunks."""
    def fix(match: re.Match) -> str:
        word = match.group(0)
        if word in STOPWORDS or frequency(word) or known(word):
            return word
        near = _one_slip(word)
        if common := sorted(near & STOPWORDS):
            return common[0]
        count, best = max(((frequency(c), c) for c in sorted(near) if c in written), default=(0, word))
        return best if count >= min_chunks else word

    return _WORD.sub(fix, text)
