"""Backup: export the active index (chunks, units, vectors) to one file and import it back, no re-embedding."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np

from assistant.errors import UserError
from assistant.store import BATCH

FORMAT = "methodology-assistant-index/1"


def export_index(store, path: Path) -> dict:
    """Write the active generation as gzipped JSON lines: a header, then chunks, then units."""
    generation = store.active_generation()
    if generation is None:
        raise UserError("the index is empty: nothing to export (run `assistant index` first)")
    chunk_col, unit_col = store.collections(generation)
    counts = {"chunks": 0, "units": 0}
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"format": FORMAT, "info": store.info(), "exported_at": time.time()}) + "\n")
        for kind, col in (("chunk", chunk_col), ("unit", unit_col)):
            offset = 0
            while True:
                got = store.call(col.get, include=["documents", "metadatas", "embeddings"], limit=BATCH,
                                  offset=offset)
                for cid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
                    out.write(json.dumps({"kind": kind, "id": cid, "text": doc, "meta": meta,
                                          "vector": [round(float(x), 7) for x in vec]}) + "\n")
                    counts[f"{kind}s"] += 1
                if len(got["ids"]) < BATCH:
                    break
                offset += BATCH
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
    chunk_col, unit_col = store.collections(generation)
    counts, batches = {"chunks": 0, "units": 0}, {"chunk": [], "unit": []}

    def flush(kind: str) -> None:
        rows = batches[kind]
        if rows:
            col = chunk_col if kind == "chunk" else unit_col
            store.call(col.upsert, ids=[r["id"] for r in rows], documents=[r["text"] for r in rows],
                        metadatas=[r["meta"] for r in rows],
                        embeddings=np.asarray([r["vector"] for r in rows], np.float32))
            counts[f"{kind}s"] += len(rows)
            rows.clear()

    try:
        with handle:
            for line in handle:
                row = json.loads(line)
                batches[row["kind"]].append(row)
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
