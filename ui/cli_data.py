"""CLI data commands: `assistant feedback` and `assistant data` (the shared database's status, upgrades, purges)."""

from __future__ import annotations

import argparse
import json
import sys

from assistant.errors import UserError

DATA_EXAMPLES = """examples:
  assistant data status                          # where the database is, its schema version, rows per table
  assistant data purge --before 2025-01-01       # delete conversations and feedback older than that day (UTC)
  assistant data purge --user U0123ABCD          # forget one user: their conversations and feedback
  assistant data purge --user U0123ABCD --before 2025-01-01 --dry-run   # count only, delete nothing
  assistant data purge                           # apply ASSISTANT_CONVERSATION_RETENTION_DAYS and
                                                 #   ASSISTANT_FEEDBACK_RETENTION_DAYS (e.g. daily from cron)
  assistant data upgrade                         # after installing a release with a new schema version"""


def _database(fn):
    """A database that cannot be reached is a one-line error (exit 2), like an unreachable Chroma."""
    from assistant.storage import StorageUnavailable

    try:
        return fn()
    except StorageUnavailable as exc:
        raise UserError(str(exc)) from None


def cmd_feedback(args) -> int:
    from assistant.feedback import export_candidates

    from ui.cli import _settings  # the one place options become settings

    settings = _settings(args)
    lines = _database(lambda: export_candidates(settings))
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if args.out:
        from pathlib import Path

        from assistant.files import write_atomic

        write_atomic(Path(args.out), text)
        print(f"{len(lines)} candidate questions written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _utc_date(text: str):
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def cmd_data(args) -> int:
    from dataclasses import asdict

    from assistant.feedback import feedback_path
    from assistant.storage import open_storage

    from ui.cli import _settings  # the one place options become settings

    settings = _settings(args)
    storage = open_storage(settings)
    if args.action == "status":
        status = _database(storage.status)
        print(json.dumps(status) if args.json else "\n".join(f"{k}: {v}" for k, v in status.items()))
        return 0
    if args.action == "upgrade":
        before, after = _database(storage.upgrade)
        done = ("tables created" if before is None else "nothing to do" if before == after
                else f"upgraded from version {before}")
        print(json.dumps({"from": before, "to": after}) if args.json else
              f"{storage.where}: schema version {after}, {done}")
        return 0
    if args.before is None and not args.user:
        if not (settings.conversation_retention_days or settings.feedback_retention_days):
            print("ASSISTANT_CONVERSATION_RETENTION_DAYS and ASSISTANT_FEEDBACK_RETENTION_DAYS are 0 (keep "
                  "forever): only expired Slack claims and rate counters are deleted", file=sys.stderr)
        purged = _database(lambda: storage.apply_retention(dry_run=args.dry_run))
    else:
        purged = _database(lambda: storage.purge(before=args.before, user=args.user, dry_run=args.dry_run))
    counts = asdict(purged)
    verb = "would delete" if args.dry_run else "deleted"
    print(json.dumps({**counts, "dry_run": args.dry_run}) if args.json else
          f"{verb} {counts['conversations']} conversations ({counts['turns']} turns), {counts['feedback']} "
          f"feedback entries, {counts['deliveries']} Slack claims, {counts['counters']} rate counters")
    legacy = feedback_path(settings).with_name("feedback.jsonl.imported")
    if legacy.exists():
        print(f"note: {legacy} is the feedback log from before the database and still holds what it held; "
              "delete it once it is no longer needed", file=sys.stderr)
    return 0
