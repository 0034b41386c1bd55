"""Citations: the one definition of a `[n]` marker (also `[1, 2]`), how to find, strip and write them."""

from __future__ import annotations

import re
from collections.abc import Iterable

# "[2]" or "[1, 3]": one or more passage numbers in square brackets.
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A marker with the space before it, as it trails a sentence.
TRAILING = re.compile(r"\s*" + MARKER.pattern)


def cited_numbers(text: str) -> list[int]:
    """Every passage number cited in `text`, in order, repeats kept."""
    return [int(n) for group in MARKER.findall(text) for n in group.split(",")]


def strip_markers(text: str) -> str:
    return TRAILING.sub("", text).strip()


def neutralise(text: str) -> str:
    """Source text that happens to contain "[3]" must not read as one of our citations."""
    return MARKER.sub(r"(\1)", text)


def markers(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)
