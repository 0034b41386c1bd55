"""Tables: a Markdown table's cells as citable units, one chunk per compared column, per row, or rows packed."""

from __future__ import annotations

from assistant.text import words

BIG_TABLE_ROWS = 200  # past this, a table's rows are packed into chunks instead of one chunk each
MAX_UNITS_PER_CHUNK = 40  # sentences, items or rows one chunk can cite on its own


def packed_rows(header: list[str], body: list[list[str]], table_name: str,
                max_words: int) -> list[tuple[str, list[str]]]:
    """A big table (a data dump more than a comparison): rows packed into chunks of about max_words,
    one unit per row ("host: host-1; owner: team-1; region: eu"), so its cost grows with its words,
    not with rows times cells."""
    out, lines, size = [], [], 0
    for row in body:
        line = "; ".join(f"{h}: {c}" for h, c in zip(header, row) if c.strip()) or " | ".join(row)
        if lines and (size + words(line) > max_words or len(lines) >= MAX_UNITS_PER_CHUNK):
            out.append((f"{table_name}\n" + "\n".join(f"- {x}" for x in lines), lines))
            lines, size = [], 0
        lines.append(line)
        size += words(line)
    if lines:
        out.append((f"{table_name}\n" + "\n".join(f"- {x}" for x in lines), lines))
    return out


def table_chunks(rows: list[list[str]], table_name: str, max_words: int = 250) -> list[tuple[str, list[str]]]:
    """Standalone texts for a table, each unit one cell ("Key Tools of Approach A: Jenkins, ...").

    A small comparison table (3+ columns, at most 12 rows) gives one chunk per compared column, so
    "Approach A" with its focus, components and tools is found together; other tables one chunk per
    row, and tables of more than BIG_TABLE_ROWS rows packed rows per chunk."""
    rows = rows or []
    if len(rows) < 2:
        return [(" | ".join(r), [" | ".join(r)]) for r in rows if any(r)]
    header, body = rows[0], rows[1:]
    if len(body) > BIG_TABLE_ROWS:
        return packed_rows(header, body, table_name, max_words)
    if len(header) <= 2:
        out = []
        for row in body:
            text = f"{row[0]} ({table_name}): {row[1] if len(row) > 1 else ''}".strip()
            out.append((text, [text]))
        return out
    by_column = len(body) <= 12
    # A unit reads on its own: "Key Tools of Approach A: Jenkins, ..." (criterion of the compared thing);
    # a blank name leaves the criterion alone ("Action: Compress data ...", not "Action of : ...").
    # A template's row describes its columns ("A one-sentence summary of the decision made."): a sentence
    # names no row, so its cells read "Detailed doc: A link to the ADR ...".
    def label(first: str, second: str) -> str:
        return f"{first} of {second}" if first.strip() and second.strip() else (first.strip() or second.strip())

    def name(cell: str) -> str:
        return "" if cell.strip().endswith(".") or len(cell.split()) > 8 else cell

    unit = {(r, c): f"{label(name(row[0]), header[c]) if by_column else label(header[c], name(row[0]))}: {row[c]}"
            for r, row in enumerate(body) for c in range(1, min(len(row), len(header))) if row[c].strip()}
    out = []
    if by_column:
        for c in range(1, len(header)):
            keys = [(r, c) for r in range(len(body)) if (r, c) in unit]
            lines = [f"- {unit[k]}" for k in keys]
            out.append((f"{table_name} - {header[c]}\n" + "\n".join(lines), [unit[k] for k in keys]))
    else:
        for r, row in enumerate(body):
            keys = [(r, c) for c in range(1, len(header)) if (r, c) in unit]
            lines = [f"- {unit[k]}" for k in keys]
            out.append((f"{table_name} - {row[0]}\n" + "\n".join(lines), [unit[k] for k in keys]))
    return [(text, units) for text, units in out if units]
