"""Feedback: thumbs up/down from the web and Slack, logged as JSONL; thumbs-down become eval candidates."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.files import append_jsonl, read_jsonl
from assistant.types import Answer


@dataclass(frozen=True)
class Feedback:
    question: str
    answer: str
    vote: str  # "up" | "down"
    citations: list = field(default_factory=list)
    refused: bool = False
    comment: str = ""
    channel: str = "web"  # web | slack
    user: str = ""
    history: list = field(default_factory=list)
    index_version: str = ""
    at: str = ""
    turn_id: str = ""  # the answer voted on; a later entry with the same id (a comment added) replaces it


def feedback_path(settings) -> Path:
    return Path(settings.data_dir) / "feedback.jsonl"


def record(settings, answer: Answer, vote: str, *, comment: str = "", channel: str = "web", user: str = "",
           history: list | tuple = (), index_version: str = "", turn_id: str = "") -> Feedback:
    if vote not in ("up", "down"):
        raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
    entry = Feedback(question=answer.question, answer=answer.text, vote=vote,
                     citations=[{"n": c.n, "id": c.id, "source": c.source, "section": c.section}
                                for c in answer.citations],
                     refused=answer.refused, comment=comment.strip()[:2000], channel=channel, user=user,
                     history=list(history), index_version=index_version, turn_id=turn_id,
                     at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    append_jsonl(feedback_path(settings), [asdict(entry)])
    return entry


def export_candidates(settings) -> list[dict]:
    """Thumbs-down entries as eval question lines (answerable, expected_facts left for a person)."""
    latest: dict[str, dict] = {}
    for i, entry in enumerate(read_jsonl(feedback_path(settings))):
        latest[entry.get("turn_id") or f"#{i}"] = entry  # a re-vote or an added comment replaces the vote
    seen, out = set(), []
    for entry in latest.values():
        if entry.get("vote") != "down" or not entry.get("question"):
            continue
        key = (entry["question"], tuple(entry.get("history") or ()))
        if key in seen:
            continue
        seen.add(key)
        digest = hashlib.sha1(repr(key).encode()).hexdigest()[:8]
        line = {"id": f"fb-{digest}", "question": entry["question"], "answerable": True, "expected_facts": []}
        if entry.get("history"):
            line["history"] = entry["history"]
        if entry.get("comment"):
            line["note"] = entry["comment"]
        out.append(line)
    return out
