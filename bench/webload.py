"""Bench web load: concurrent chat sessions against `assistant serve` on loopback, through gradio_client.

Usage: python bench/webload.py [--sessions 50] [--seconds 60] [--think 1.0] [--overload 120]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, percentile, save, table  # noqa: E402


def start_server(port: int, env: dict) -> subprocess.Popen:
    """Start `assistant serve` and wait for its first page; `proc.ready_s` is how long that took."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("assistant serve exited")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            proc.ready_s = round(time.perf_counter() - started, 2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("assistant serve did not come up")


def stop_server(proc: subprocess.Popen) -> None:
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def sequential(url: str, count: int = 10) -> dict:
    """What one user sees: `count` questions one after another in one conversation."""
    from gradio_client import Client

    client, latencies = Client(url, verbose=False), []
    for question in QUESTIONS[:count]:
        started = time.perf_counter()
        client.predict(question, api_name="/ask")
        latencies.append((time.perf_counter() - started) * 1000)
    return {"questions": count, "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1), "samples_ms": [round(x, 1) for x in latencies]}


def run_load(urls: list[str], sessions: int, seconds: float, think: float) -> dict:
    """`sessions` threads, each its own gradio_client session (own history), asking in a loop with a pause
    between questions, for `seconds`; bounded in count and time, loopback only."""
    from gradio_client import Client

    latencies, errors, lock = [], [], threading.Lock()
    stop_at = time.time() + seconds
    questions = itertools.cycle(QUESTIONS)

    def session(i: int) -> None:
        try:
            client = Client(urls[i % len(urls)], verbose=False)
        except Exception as exc:  # noqa: BLE001 - counted, reported
            with lock:
                errors.append(f"connect: {exc.__class__.__name__}")
            return
        while time.time() < stop_at:
            with lock:
                question = next(questions)
            started = time.perf_counter()
            try:
                result = client.predict(question, api_name="/ask")
                chat = result[0] if isinstance(result, (list, tuple)) else result
                last = str(chat[-1]) if chat else ""
                ok = 'href="#src-1"' in last or "refusal" in last
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    if not ok:
                        errors.append("answer without citation")
            except Exception as exc:  # noqa: BLE001
                with lock:
                    errors.append(str(exc)[:80] or exc.__class__.__name__)
            time.sleep(think)

    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(sessions)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.time() - started
    kinds: dict[str, int] = {}
    for error in errors:
        kinds[error] = kinds.get(error, 0) + 1
    return {"sessions": sessions, "seconds": round(elapsed, 1), "requests": len(latencies) + len(errors),
            "ok": len(latencies), "errors": len(errors), "error_kinds": kinds,
            "throughput_rps": round(len(latencies) / elapsed, 2),
            "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
            "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
            "p99_ms": round(percentile(latencies, 99), 1) if latencies else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0, help="pause between a session's questions (s)")
    parser.add_argument("--overload", type=int, default=120, help="sessions for the past-the-limit phase (0: skip)")
    args = parser.parse_args()
    from tests.conftest import free_port

    env = {**os.environ}
    port = free_port()
    proc = start_server(port, env)
    try:
        url = f"http://127.0.0.1:{port}/"
        one_user = sequential(url)
        normal = run_load([url], args.sessions, args.seconds, args.think)
        overload = run_load([url], args.overload, 20, 0.0) if args.overload else None
    finally:
        stop_server(proc)
    path = save("webload", {"serve_to_first_page_s": proc.ready_s, "sequential": one_user, "normal": normal,
                            "overload": overload, "think_s": args.think})
    rows = [("`assistant serve` to first page", f"{proc.ready_s} s", "", ""),
            ("10 sequential questions p50 / p95 (ms)", f"{one_user['p50_ms']} / {one_user['p95_ms']}", "one session", ""),
            (f"{normal['sessions']} sessions, {normal['seconds']} s", f"{normal['requests']} requests, "
             f"{normal['errors']} errors", f"{normal['throughput_rps']} answers/s", "errors 0"),
            ("latency p50 / p95 / p99 (ms)", f"{normal['p50_ms']} / {normal['p95_ms']} / {normal['p99_ms']}", "",
             "p95 <= 1500")]
    if overload:
        rows.append((f"past the limit: {overload['sessions']} sessions, no pause",
                     f"{overload['ok']} ok, {overload['errors']} refused", str(overload["error_kinds"])[:60],
                     "fast refusal, no hang"))
    print(table(rows))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
