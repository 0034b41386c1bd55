"""Soak: mixed web, Slack and eval load for a long run; counts errors and samples memory.

Usage: python bench/soak.py [--minutes 30]   (not in CI; writes bench/results/soak.json)
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
    args = parser.parse_args()
    from gradio_client import Client

    from assistant.app import Assistant
    from assistant.config import Settings
    from eval.questions import load_questions
    from eval.runner import run_assistant
    from tests.conftest import free_port
    from tests.test_slack import Bot, StandIn, mention

    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"soak-{os.getpid()}"
    env = {**os.environ, "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0", "ASSISTANT_DATA_DIR": str(data)}
    settings = Settings(data_dir=data, rate_limit_per_minute=0)
    assistant = Assistant.from_settings(settings)
    assistant.ensure_index(progress=False)
    assistant.warm_up()
    port = free_port()
    server = start_server(port, env)
    stand_in = StandIn()
    bot = Bot(assistant, settings, stand_in)
    deadline = time.time() + args.minutes * 60
    counts = {"web_ok": 0, "web_errors": 0, "slack_sent": 0, "slack_rejected": 0, "eval_runs": 0, "eval_errors": 0}
    latencies, errors, memory, lock = [], [], [], threading.Lock()
    questions = itertools.cycle(QUESTIONS)
    eval_set = load_questions(Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl")[:20]

    def web(i: int) -> None:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        while time.time() < deadline:
            with lock:
                question = next(questions)
            started = time.perf_counter()
            try:
                chat = client.predict(question, api_name="/ask")[0]
                ok = 'href="#src-1"' in str(chat[-1]) or "refusal" in str(chat[-1])
                with lock:
                    counts["web_ok" if ok else "web_errors"] += 1
                    latencies.append((time.perf_counter() - started) * 1000)
                if len(chat) > 12:
                    client.predict(api_name="/new_conversation")
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

    threads = [threading.Thread(target=web, args=(i,), daemon=True) for i in range(args.web_sessions)]
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
    result = {"minutes": args.minutes, **counts, "slack_replies": replies, "slack_missing": slack_missing,
              "web_p50_ms": round(percentile(latencies, 50), 1), "web_p95_ms": round(percentile(latencies, 95), 1),
              "memory": memory, "rss_growth_second_half_mb": growth, "errors": errors[:20]}
    path = save("soak", result)
    total_errors = counts["web_errors"] + counts["slack_rejected"] + max(0, slack_missing) + counts["eval_errors"]
    print(table([
        (f"{args.minutes} min mixed load", f"{total_errors} errors",
         f"web {counts['web_ok']} answers, slack {replies} replies, eval {counts['eval_runs']} runs", "0 errors"),
        ("web latency p50 / p95 (ms)", f"{result['web_p50_ms']} / {result['web_p95_ms']}", "", ""),
        ("RSS web / bot+eval (MB), start -> end", f"{memory[0]['web_rss_mb']} -> {memory[-1]['web_rss_mb']} / "
         f"{memory[0]['bot_eval_rss_mb']} -> {memory[-1]['bot_eval_rss_mb']}",
         f"second-half growth {growth}", "flat"),
    ]))
    print(f"\nwritten {path}")
    return 0 if total_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
