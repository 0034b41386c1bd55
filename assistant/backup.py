"""Backup: export the active index (chunks, units, vectors) to one file and import it back, no re-embedding."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

from assistant.errors import UserError
from assistant.store import BATCH
from assistant.types import StoredRow

FORMAT = "methodology-assistant-index/1"


def export_index(store, path: Path) -> dict:
    """Write the active generation as gzipped JSON lines: a header, then chunks, then units."""
    generation = store.active_generation()
    if generation is None:
        raise UserError("the index is empty: nothing to export (run `assistant index` first)")
    counts = {"chunks": 0, "units": 0}
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"format": FORMAT, "info": store.info(), "exported_at": time.time()}) + "\n")
        for kind, row in store.export(generation):
            out.write(json.dumps({"kind": kind, "id": row.id, "text": row.text, "meta": row.meta,
                                  "vector": [round(x, 7) for x in row.vector]}) + "\n")
            counts[f"{kind}s"] += 1
    tmp.replace(path)  # a crash mid-export never leaves a truncated backup under the real name
    return counts


def import_index(store, path: Path) -> dict:
    """Load a backup into a new generation and switch to it only when it is complete."""
    if not path.is_file():
        raise UserError(f"no backup file at {path}")
    try:
        handle = gzip.open(path, "rt", encoding="utf-8")
        header = json.loads(handle.readline())
    except (OSError, json.JSONDecodeError, EOFError) as exc:
        raise UserError(f"{path} is not an index backup ({exc.__class__.__name__})") from None
    if header.get("format") != FORMAT:
        raise UserError(f"{path} is not an index backup of this version (format {header.get('format')!r})")
    generation = f"g{time.time_ns()}"
    counts, batches = {"chunks": 0, "units": 0}, {"chunk": [], "unit": []}

    def flush(kind: str) -> None:
        rows = batches[kind]
        if rows:
            store.write_rows(generation, kind, rows)
            counts[f"{kind}s"] += len(rows)
            rows.clear()

    try:
        with handle:
            for line in handle:
                row = json.loads(line)
                batches[row["kind"]].append(StoredRow(id=row["id"], text=row["text"], meta=row["meta"],
                                                      vector=tuple(row["vector"])))
                if len(batches[row["kind"]]) >= BATCH:
                    flush(row["kind"])
        flush("unit")
        flush("chunk")
    except (OSError, json.JSONDecodeError, EOFError, KeyError) as exc:
        store.drop(generation)
        raise UserError(f"{path} is damaged ({exc.__class__.__name__}); the current index is unchanged") from None
    info = {k: v for k, v in header.get("info", {}).items() if k not in ("generation", "built_at")}
    store.activate(generation, **info)
    return counts
