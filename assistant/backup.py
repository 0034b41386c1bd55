"""Backup: export the active index (chunks, units, vectors) to one file and import it back, no re-embedding."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

from assistant.errors import UserError
from assistant.store import BATCH
from assistant.types import StoredRow

# /2: a trailer with counts and a SHA-256 of every row line. A unit is one row with its vector, as
# before unit packs (the store packs them on import): old backups import, new ones need no new reader.
FORMAT = "methodology-assistant-index/2"
KINDS = ("chunk", "unit")


def export_index(store, path: Path) -> dict:
    """Write the active generation as gzipped JSON lines: a header, the chunks, the units, then a
    trailer with the row counts and the SHA-256 of the row lines, so an import can prove the file whole."""
    generation = store.active_generation()
    if generation is None:
        raise UserError("the index is empty: nothing to export (run `assistant index` first)")
    counts = {"chunks": 0, "units": 0}
    digest = hashlib.sha256()
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"format": FORMAT, "info": store.info(), "exported_at": time.time()}) + "\n")
        for kind, row in store.export(generation):
            # A unit's float16 vector is written whole (few digits, and the import restores it bit for bit).
            vector = [round(x, 7) for x in row.vector] if kind == "chunk" else list(row.vector)
            line = json.dumps({"kind": kind, "id": row.id, "text": row.text, "meta": row.meta, "vector": vector})
            digest.update(line.encode() + b"\n")
            out.write(line + "\n")
            counts[f"{kind}s"] += 1
        out.write(json.dumps({"kind": "end", **counts, "sha256": digest.hexdigest()}) + "\n")
    tmp.replace(path)  # a crash mid-export never leaves a truncated backup under the real name
    return counts


class Damaged(ValueError):
    """A backup that is not whole or not what export_index wrote."""


def _row(line: str, dimension: int | None) -> StoredRow:
    row = json.loads(line)
    if not isinstance(row, dict) or row.get("kind") not in KINDS:
        raise Damaged("a line is not a chunk or unit row")
    vector, meta = row.get("vector"), row.get("meta")
    if not isinstance(row.get("id"), str) or not isinstance(row.get("text"), str) or not isinstance(meta, dict):
        raise Damaged("a row lacks its id, text or metadata")
    if any(not isinstance(v, (str, int, float, bool)) for v in meta.values()):
        raise Damaged("a row has a metadata value that is not a string, number or boolean")
    if not isinstance(vector, list) or not vector or any(not isinstance(x, (int, float)) for x in vector) \
            or (dimension is not None and len(vector) != dimension):
        raise Damaged("a row's vector is missing or has the wrong length")
    return StoredRow(id=row["id"], text=row["text"], meta=meta, vector=tuple(vector))


def _rows(path: Path):
    """(kind, StoredRow) for every row, then the proof that the file is whole: a trailer whose counts
    and checksum match the rows read (Damaged otherwise). The import reads it twice: once to check,
    writing nothing, and once to load."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        handle.readline()
        digest, counts, dimension, trailer = hashlib.sha256(), {"chunks": 0, "units": 0}, None, None
        for line in handle:
            line = line.rstrip("\n")
            if trailer is not None:
                raise Damaged("there are lines after the trailer")
            if line.startswith('{"kind": "end"'):
                trailer = json.loads(line)
                continue
            row = _row(line, dimension)
            dimension = len(row.vector)
            digest.update(line.encode() + b"\n")
            kind = json.loads(line)["kind"]
            counts[f"{kind}s"] += 1
            yield kind, row
    if trailer is None:
        raise Damaged("the file ends before its trailer (cut short?)")
    if (trailer.get("chunks"), trailer.get("units")) != (counts["chunks"], counts["units"]):
        raise Damaged(f"it holds {counts['chunks']} chunks and {counts['units']} units, its trailer says "
                      f"{trailer.get('chunks')} and {trailer.get('units')}")
    if trailer.get("sha256") != digest.hexdigest():
        raise Damaged("its checksum does not match its rows")
    if not counts["chunks"]:
        raise Damaged("it holds no chunks")


def import_index(store, path: Path) -> dict:
    """Prove the backup whole, load it into a new generation, and switch to it only when complete;
    anything wrong is one line, the current index untouched and nothing left behind."""
    if not path.is_file():
        raise UserError(f"no backup file at {path}")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            header = json.loads(handle.readline())
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path} is not an index backup ({exc.__class__.__name__})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise UserError(f"{path} is not an index backup of this version (format {found!r}; "
                        f"export it again with `assistant index --export`)")
    unchanged = "; the current index is unchanged"
    try:
        for _ in _rows(path):  # check everything before writing anything
            pass
    except (Damaged, OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path} is damaged: {_reason(exc)}{unchanged}") from None
    generation = f"g{time.time_ns()}"
    counts, batches = {"chunks": 0, "units": 0}, {"chunk": [], "unit": []}

    def flush(kind: str) -> None:
        rows = batches[kind]
        if rows:
            store.write_rows(generation, kind, rows)
            counts[f"{kind}s"] += len(rows)
            rows.clear()

    try:
        for kind, row in _rows(path):
            batches[kind].append(row)
            if len(batches[kind]) >= BATCH:
                flush(kind)
        flush("unit")
        flush("chunk")
    except Exception as exc:
        store.drop(generation)  # no orphan collections, whatever failed
        if isinstance(exc, (Damaged, OSError, ValueError, EOFError)):
            raise UserError(f"{path} is damaged: {_reason(exc)}{unchanged}") from None
        raise
    info = {k: v for k, v in header.get("info", {}).items() if k not in ("generation", "built_at", "revision")}
    from assistant.indexing import INDEX_FORMAT

    if info.get("format") == INDEX_FORMAT - 1:
        # Format 7 changed only how the store keeps units, and the import packed them: an export and
        # import upgrades an index without re-embedding it.
        info["format"] = INDEX_FORMAT
    store.activate(generation, **info)
    return counts


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, Damaged) else exc.__class__.__name__
