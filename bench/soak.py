"""Soak: mixed web, Slack and eval load for a long run; counts errors and samples memory.

Usage: python bench/soak.py [--minutes 30] [--index-every 5]   (not in CI; writes bench/results/soak.json)
Every --index-every minutes a document with a fresh, unique fact is added to (then removed from) a
copy of the corpus and `assistant index` runs in a process of its own; the web server and the Slack
bot must answer from the new index within --stale-after seconds: an answer still missing the added
fact, or still citing the removed document, counts as stale.
The web chat runs as `assistant serve` in its own process; the Slack bot (HTTP mode, against a
local stand-in for Slack's Web API, driven by signed Events API requests) and the eval runs share
this process. Everything stays on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, percentile, save, table  # noqa: E402
from bench.webload import start_server, stop_server  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--web-sessions", type=int, default=4)
    parser.add_argument("--think", type=float, default=2.0)
    parser.add_argument("--index-every", type=float, default=5.0, help="minutes between index changes (0: none)")
    parser.add_argument("--stale-after", type=float, default=5.0, help="seconds a serving process may lag")
    args = parser.parse_args()
    from gradio_client import Client

    from assistant.app import Assistant
    from assistant.config import Settings
    from eval.questions import load_questions
    from eval.runner import run_assistant
    from tests.conftest import free_port
    from tests.test_slack import Bot, StandIn, mention

    import shutil
    import subprocess

    import httpx

    from assistant.config import PROJECT_ROOT

    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"soak-{os.getpid()}"
    # A copy of the corpus and of the built index: the soak changes both, never the checkout's.
    corpus, index = data / "corpus", data / "index"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    if (PROJECT_ROOT / "index" / "chroma").exists():
        shutil.copytree(PROJECT_ROOT / "index", index, ignore=shutil.ignore_patterns(".index.lock"))
    env = {**os.environ, "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0", "ASSISTANT_API_RATE_LIMIT_PER_MINUTE": "0",
           "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(index)}
    settings = Settings(data_dir=data, corpus_dir=corpus, index_dir=index, rate_limit_per_minute=0)
    assistant = Assistant.from_settings(settings)
    assistant.ensure_index(progress=False)
    assistant.warm_up()
    port = free_port()
    server = start_server(port, env)
    stand_in = StandIn()
    bot = Bot(assistant, settings, stand_in)
    deadline = time.time() + args.minutes * 60
    counts = {"web_ok": 0, "web_errors": 0, "slack_sent": 0, "slack_rejected": 0, "eval_runs": 0, "eval_errors": 0,
              "index_changes": 0, "index_errors": 0, "stale_answers": 0, "fresh_checks": 0}
    changes: list[dict] = []
    latencies, errors, memory, lock = [], [], [], threading.Lock()
    questions = itertools.cycle(QUESTIONS)
    eval_set = load_questions(Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl")[:20]

    def web(i: int) -> None:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False)
        while time.time() < deadline:
            with lock:
                question = next(questions)
            started = time.perf_counter()
            try:
                chat = client.predict(question, api_name="/ask")[0]
                ok = 'class="cite"' in str(chat[-1]) or "refusal" in str(chat[-1])
                with lock:
                    counts["web_ok" if ok else "web_errors"] += 1
                    latencies.append((time.perf_counter() - started) * 1000)
                if len(chat) > 12:  # a new browser session: a new conversation
                    client.close()
                    client = Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    counts["web_errors"] += 1
                    errors.append(f"web: {exc}"[:120])
            time.sleep(args.think)

    def slack_load() -> None:
        while time.time() < deadline:
            status, _ = bot.event(mention(next(questions)))
            with lock:
                counts["slack_sent"] += 1
                if status != 200:
                    counts["slack_rejected"] += 1
            time.sleep(args.think)

    def evals() -> None:
        while time.time() < deadline:
            try:
                rows = run_assistant(assistant, eval_set, progress=False)
                with lock:
                    counts["eval_runs"] += 1
                    counts["eval_errors"] += sum("error" in r for r in rows)
            except Exception as exc:  # noqa: BLE001
                with lock:
                    counts["eval_errors"] += 1
                    errors.append(f"eval: {exc}"[:120])
            time.sleep(30)

    def served(question: str) -> list[tuple[str, dict]]:
        """What each serving process answers now: the web server (through its API) and the bot's assistant."""
        web_answer = httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": question}, timeout=30).json()
        return [("web", web_answer), ("slack", assistant.ask(question).to_json())]

    def wait_until(question: str, fresh) -> dict[str, float]:
        """Seconds until each serving process answers `fresh`ly; a process still stale after
        --stale-after is counted once."""
        started, lag = time.monotonic(), {}
        while len(lag) < 2 and time.monotonic() - started < args.stale_after + 30:
            for who, answer in served(question):
                if who not in lag and fresh(answer):
                    lag[who] = round(time.monotonic() - started, 2)
            time.sleep(0.25)
        with lock:
            counts["fresh_checks"] += 2
            counts["stale_answers"] += sum(1 for who in ("web", "slack") if lag.get(who, 1e9) > args.stale_after)
        return lag

    def index_changes() -> None:
        n = 0
        while args.index_every and time.time() + args.index_every * 60 < deadline:
            time.sleep(args.index_every * 60 / 2)
            n += 1
            name, code = f"soak-canary-{n}.md", f"Quokka-{n}-{os.getpid()}"
            question = f"What is the rollout window of the {code} service?"
            for step in ("add", "remove"):
                if step == "add":
                    (corpus / name).write_text(f"# {code} service\n\n## Rollout\n\nThe {code} service rolls out "
                                               f"during a window of {n + 2} hours every Friday, after the {code} "
                                               "canary has run clean for a day.\n")
                else:
                    (corpus / name).unlink()
                out = subprocess.run([sys.executable, "-m", "assistant", "index", "--json"], env=env,
                                     capture_output=True, text=True, timeout=600)
                with lock:
                    counts["index_changes"] += 1
                    if out.returncode:
                        counts["index_errors"] += 1
                        errors.append(f"index: {out.stderr.strip()[-120:]}")
                        continue
                cites = lambda a: any(c["source"] == name for c in a.get("citations", []))  # noqa: E731
                lag = wait_until(question, cites if step == "add" else (lambda a: not cites(a)))
                changes.append({"step": step, "document": name, "index": out.stdout.strip(), "lag_s": lag})
                if step == "add":
                    time.sleep(args.index_every * 60 / 2)

    threads = [threading.Thread(target=web, args=(i,), daemon=True) for i in range(args.web_sessions)]
    threads.append(threading.Thread(target=index_changes, daemon=True))
    threads += [threading.Thread(target=slack_load, daemon=True), threading.Thread(target=evals, daemon=True)]
    for thread in threads:
        thread.start()
    started = time.time()
    try:
        while time.time() < deadline:
            memory.append({"t": round(time.time() - started), "web_rss_mb": rss_mb(server.pid),
                           "bot_eval_rss_mb": rss_mb(os.getpid())})
            time.sleep(min(30, max(1, deadline - time.time())))
        for thread in threads:
            thread.join(120)
        time.sleep(10)  # let the last Slack answers land
        replies = len(stand_in.of("chat.postMessage"))
    finally:
        stop_server(server)
        bot.stop()
        stand_in.stop()
    slack_missing = counts["slack_sent"] - counts["slack_rejected"] - replies
    half = max(1, len(memory) // 2)
    growth = {key: round(memory[-1][key] - memory[half - 1][key], 1) for key in ("web_rss_mb", "bot_eval_rss_mb")}
    peak = {key: max(m[key] for m in memory) for key in ("web_rss_mb", "bot_eval_rss_mb")}
    result = {"minutes": args.minutes, **counts, "slack_replies": replies, "slack_missing": slack_missing,
              "web_p50_ms": round(percentile(latencies, 50), 1), "web_p95_ms": round(percentile(latencies, 95), 1),
              "memory": memory, "rss_growth_second_half_mb": growth, "rss_max_mb": peak, "index_change_log": changes,
              "errors": errors[:20]}
    path = save("soak", result)
    total_errors = (counts["web_errors"] + counts["slack_rejected"] + max(0, slack_missing) + counts["eval_errors"]
                    + counts["index_errors"] + counts["stale_answers"])
    print(table([
        (f"{args.minutes} min mixed load", f"{total_errors} errors",
         f"web {counts['web_ok']} answers, slack {replies} replies, eval {counts['eval_runs']} runs", "0 errors"),
        ("index changes (add/remove a document)", f"{counts['index_changes']} runs, {counts['index_errors']} failed",
         f"{counts['stale_answers']} stale of {counts['fresh_checks']} checks (after {args.stale_after} s)", "0 stale"),
        ("web latency p50 / p95 (ms)", f"{result['web_p50_ms']} / {result['web_p95_ms']}", "", ""),
        ("RSS web / bot+eval (MB), start -> end", f"{memory[0]['web_rss_mb']} -> {memory[-1]['web_rss_mb']} / "
         f"{memory[0]['bot_eval_rss_mb']} -> {memory[-1]['bot_eval_rss_mb']}",
         f"max {peak['web_rss_mb']} / {peak['bot_eval_rss_mb']}; second-half growth {growth}", "flat"),
    ]))
    print(f"\nwritten {path}")
    return 0 if total_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
