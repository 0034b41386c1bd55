"""Feedback: thumbs up/down from the web, Slack and the API, in the shared database; thumbs-down become eval candidates."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from assistant.files import read_jsonl
from assistant.storage import Feedback, Storage, open_storage
from assistant.types import Answer

log = logging.getLogger(__name__)

__all__ = ["Feedback", "entries", "export_candidates", "feedback_path", "import_jsonl", "record"]


def feedback_path(settings) -> Path:
    """The JSONL log feedback was kept in before the database; imported once, then renamed *.imported."""
    return Path(settings.data_dir) / "feedback.jsonl"


def import_jsonl(settings, storage: Storage) -> int:
    """Move the old JSONL log into the database once. The file is renamed aside first, so of several
    processes only one takes it; a crash mid-import leaves it *.importing and the next call finishes
    (entries are keyed by their turn id or their content, so importing again adds nothing)."""
    path = feedback_path(settings)
    taking = path.with_name(path.name + ".importing")
    try:
        os.rename(path, taking)
    except FileNotFoundError:
        pass  # nothing to import, or another process took it
    if not taking.exists():
        return 0
    entries = []
    for number, raw in enumerate(read_jsonl(taking), 1):  # in order: a later entry for a turn replaces the earlier
        if not all(isinstance(raw.get(k), str) for k in ("question", "answer", "vote")):
            log.warning("%s: entry %d is not a vote, skipped", taking, number)
            continue
        key = raw.get("turn_id") or "jsonl:" + hashlib.sha1(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]
        entries.append(Feedback(**{**{k: v for k, v in raw.items() if k in Feedback.__dataclass_fields__},
                                   "turn_id": key}))
    storage.add_feedback(entries)
    os.replace(taking, path.with_name(path.name + ".imported"))
    log.info("imported %d feedback entries from %s into %s", len(entries), path, storage.where)
    return len(entries)


def _storage(settings, storage: Storage | None) -> Storage:
    storage = storage or open_storage(settings)
    if feedback_path(settings).exists() or feedback_path(settings).with_name("feedback.jsonl.importing").exists():
        import_jsonl(settings, storage)
    return storage


def record(settings, answer: Answer, vote: str, *, comment: str = "", channel: str = "web", user: str = "",
           history: list | tuple = (), index_version: str = "", turn_id: str = "",
           storage: Storage | None = None) -> Feedback:
    """Store one vote. A vote with the `turn_id` of an earlier one (a changed mind, an added comment)
    replaces it. Raises StorageUnavailable (an OSError) when the database cannot be written."""
    if vote not in ("up", "down"):
        raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
    entry = Feedback(question=answer.question, answer=answer.text, vote=vote,
                     citations=[{"n": c.n, "id": c.id, "source": c.source, "section": c.section}
                                for c in answer.citations],
                     refused=answer.refused, comment=comment.strip()[:2000], channel=channel, user=user,
                     history=list(history), index_version=index_version, turn_id=turn_id,
                     at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    _storage(settings, storage).add_feedback([entry])
    return entry


def entries(settings, storage: Storage | None = None, vote: str | None = None) -> list[Feedback]:
    """The stored votes (of one kind, if given), in the order first given; a later vote on the same
    turn has replaced the earlier one."""
    return _storage(settings, storage).feedback_entries(vote=vote)


def export_candidates(settings, storage: Storage | None = None) -> list[dict]:
    """Thumbs-down entries as eval question lines (answerable, expected_facts left for a person)."""
    seen, out = set(), []
    for entry in entries(settings, storage, vote="down"):
        if not entry.question:
            continue
        key = (entry.question, tuple(entry.history or ()))
        if key in seen:
            continue
        seen.add(key)
        digest = hashlib.sha1(repr(key).encode()).hexdigest()[:8]
        line = {"id": f"fb-{digest}", "question": entry.question, "answerable": True, "expected_facts": []}
        if entry.history:
            line["history"] = list(entry.history)
        if entry.comment:
            line["note"] = entry.comment
        out.append(line)
    return out
