"""CLI: `assistant index | search | ask | chat | serve | slack | eval | feedback | data`, one entry point (a face, like web and Slack)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys

from assistant.errors import UserError
from ui.cli_data import DATA_EXAMPLES, _utc_date, cmd_data, cmd_feedback
from ui.starter import ready_assistant

EXAMPLES = {
    "index": "assistant index --json            # incremental; --rebuild, --export FILE, --import FILE",
    "search": 'assistant search "Which tools are named for configuration management?" -k 5 --json',
    "ask": 'assistant ask "And its challenges?" --history "What are the benefits of the approach?" --json',
    "chat": "assistant chat                     # terminal chat with history; empty line or Ctrl-D quits",
    "serve": "assistant serve --port 7860        # web chat on http://127.0.0.1:7860",
    "slack": "assistant slack --http --port 3000 # or Socket Mode with SLACK_APP_TOKEN set",
    "eval": "assistant eval --json --min-fact-recall 0.8 --min-groundedness 0.98",
    "feedback": "assistant feedback export --out eval/from-feedback.jsonl",
    "data": "assistant data purge --before 2025-01-01 # or --user U0123ABCD; data status; data upgrade",
}
def _settings(args):
    from assistant.config import Settings

    overrides = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = args.corpus
    return Settings(**overrides)


def cmd_index(args) -> int:
    from assistant.embeddings import Embedder
    from assistant.indexing import index_corpus
    from assistant.store import Store

    settings = _settings(args)
    if args.export or args.import_:
        from pathlib import Path

        from assistant.backup import export_index, import_index
        from assistant.indexing import index_lock

        store = Store.open(settings)
        with index_lock(settings, store):
            counts = export_index(store, Path(args.export)) if args.export else import_index(store, Path(args.import_))
        print(json.dumps(counts) if args.json else f"{'exported' if args.export else 'imported'} "
              f"{counts['chunks']} chunks and {counts['units']} units")
        return 0
    stats = index_corpus(settings, Store.open(settings), Embedder.from_settings(settings),
                         rebuild=args.rebuild, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(stats.to_json()))
    else:
        print(f"{stats.documents} documents, {stats.chunks} chunks: embedded {stats.embedded}, "
              f"deleted {stats.deleted} in {stats.seconds:.1f}s")
        for skipped in stats.skipped:
            print(f"skipped (unreadable): {skipped}")
    return 0


def cmd_search(args) -> int:
    from assistant.app import check_question
    from assistant.domain import load_profile

    settings = _settings(args)
    check_question(args.question, settings.max_question_chars, load_profile(settings.domain_file).subject)  # before any model or store is touched
    hits = ready_assistant(settings).search(args.question, k=args.k).hits
    rows = [{"id": h.id, "source": h.source, "section": h.section, "text": h.text, "score": round(h.score, 6),
             "dense": h.dense, "bm25": h.bm25} for h in hits]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for i, row in enumerate(rows, 1):
            print(f"{i}. [{row['score']:.4f}] {row['source']} > {row['section']}\n   {row['text'][:300]}\n")
    return 0


def render_answer(answer) -> str:
    lines = [answer.text]
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            quote = " ".join(c.text.split())
            lines.append(f"  [{c.n}] {c.source} > {c.section}\n      \"{quote[:280]}{'...' if len(quote) > 280 else ''}\"")
    return "\n".join(lines)


def cmd_ask(args) -> int:
    from assistant.app import check_question
    from assistant.domain import load_profile

    settings = _settings(args)
    check_question(args.question, settings.max_question_chars, load_profile(settings.domain_file).subject)
    answer = ready_assistant(settings).ask(args.question, history=args.history or [])
    print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else render_answer(answer))
    return 0


def cmd_chat(args) -> int:
    assistant = ready_assistant(_settings(args))
    history: list[str] = []
    print(f"Ask about {assistant.profile.subject}. Empty line or Ctrl-D quits.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            answer = assistant.ask(question, history=history)
        except UserError as exc:
            print(f"error: {exc}")
            continue
        print("\n" + render_answer(answer))
        history = (history + [question])[-assistant.settings.history_turns:]


def cmd_serve(args) -> int:
    from ui.web import serve

    settings = _settings(args)
    serve(settings, host=args.host or settings.host, port=args.port or settings.port,
          auth=args.auth if args.auth is not None else settings.auth)
    return 0


def cmd_slack(args) -> int:
    from ui.slack import run

    run(_settings(args), http=args.http, port=args.port)
    return 0


def cmd_eval(args) -> int:
    from eval.cli import run_eval_command

    settings = _settings(args)
    return run_eval_command(args, settings, ready_assistant(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Cited answers from your corpus of documents, "
                                     "offline; says so when the corpus does not hold the answer.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n  " + "\n  ".join(EXAMPLES.values()))
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and warnings")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, help_text, fn):
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=f"example:\n  {EXAMPLES[name]}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(fn=fn)
        return p

    p = command("index", "build or update the index from the corpus folder", cmd_index)
    p.add_argument("--corpus", help="corpus folder (default: settings corpus_dir)")
    p.add_argument("--rebuild", action="store_true", help="start from scratch (built aside, then switched)")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress bar")
    backup = p.add_mutually_exclusive_group()
    backup.add_argument("--export", metavar="FILE", help="write the active index to FILE (.jsonl.gz) and stop")
    backup.add_argument("--import", dest="import_", metavar="FILE", help="replace the index with a backup FILE")

    p = command("search", "show the passages retrieval finds for a question", cmd_search)
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="number of passages (default: settings k)")
    p.add_argument("--json", action="store_true")

    p = command("ask", "answer a question with numbered citations", cmd_ask)
    p.add_argument("question")
    p.add_argument("--history", action="append", metavar="EARLIER_QUESTION", help="earlier question (repeat)")
    p.add_argument("--json", action="store_true")

    command("chat", "terminal chat with history", cmd_chat)

    p = command("serve", "start the web chat (Gradio)", cmd_serve)
    p.add_argument("--host", help="address to bind (default 127.0.0.1; others need --auth)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--auth", help="user:password required when binding beyond loopback")

    p = command("slack", "run the Slack bot (Socket Mode, or HTTP with --http)", cmd_slack)
    p.add_argument("--http", action="store_true", help="serve the Events API on /slack/events instead of Socket Mode")
    p.add_argument("--port", type=int, default=3000)

    p = command("feedback", "work with the feedback kept in the database", cmd_feedback)
    p.add_argument("action", choices=["export"], help="export: thumbs-down answers as eval question lines")
    p.add_argument("--out", help="write to this file instead of stdout")

    p = command("data", "the shared database: status, retention purge, schema upgrade", cmd_data)
    p.epilog = DATA_EXAMPLES
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (("status", "where the database is, its schema version and rows per table"),
                       ("purge", "delete conversations and feedback by date and/or user (default: the retention "
                                 "settings)"),
                       ("upgrade", "bring the schema to this release's version (run once, serving processes "
                                   "stopped)")):
        q = actions.add_parser(name, help=text, description=text, epilog=DATA_EXAMPLES,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        q.add_argument("--json", action="store_true", help="print one JSON object")
    q = actions.choices["purge"]
    q.add_argument("--before", type=_utc_date, metavar="DATE",
                   help="older than this (UTC; YYYY-MM-DD or an ISO time): conversations by last activity")
    q.add_argument("--user", metavar="ID", help="only this user's (a Slack user id, or the web's owner id)")
    q.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")

    p = command("eval", "score the assistant on a question set (the CI gate)", cmd_eval)
    p.add_argument("--questions", help="JSONL question file (default: eval/questions.jsonl)")
    p.add_argument("--out", help="run folder for results.jsonl, summary.json, report.html (default: eval/runs/TIME)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--compare", metavar="PREVIOUS_RUN_DIR", help="list questions whose metrics changed")
    p.add_argument("--no-baseline", action="store_true", help="skip the tutorial-pipeline baseline")
    from eval.gate import add_gate_arguments

    add_gate_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # A process that answers one question and exits (the `assistant` script, `python -m assistant`;
    # never a caller such as the tests, which pass argv and keep their process).
    one_shot = argv is None and args.fn in (cmd_ask, cmd_search)
    if one_shot:
        # Its imports (LangChain, pydantic models; chromadb unless the store's record file serves it)
        # make ~120k long-lived objects, which the cyclic collector would walk again and again while
        # they load: ~0.1-0.2 s. What they leave unreachable is little, and the process ends in a second or two.
        gc.disable()
    try:
        return args.fn(args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`assistant ask ... | head -3`): nothing left to say, and no traceback.
        # Python flushes stdout again at exit; pointed at /dev/null that flush cannot fail.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        if one_shot:
            # The interpreter's last collections at exit would walk all of them once more (~0.2 s);
            # frozen, they are left to the OS. Atexit handlers and module teardown still run.
            gc.freeze()


if __name__ == "__main__":
    raise SystemExit(main())
