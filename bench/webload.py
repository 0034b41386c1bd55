"""Bench web load: concurrent sessions against `assistant serve` on loopback, web chat and/or HTTP API.

The web chat is driven through gradio_client (api_name "/ask", the question alone: as in the browser,
the conversation is kept by the server and each answer brings the whole chat back), the HTTP API with
plain HTTP (POST /api/ask, one keep-alive httpx session per simulated user).

Usage: python bench/webload.py [--target web|api|both] [--sessions 50] [--seconds 60] [--think 1.0]
                               [--overload 120] [--server-rate-limit 100000]

The load generator (this process, one thread per simulated session) and the server (`python -m assistant
serve`, started here as a subprocess in its own session) are separate processes; both share this
machine's cores, and the CPU time each used during a phase is recorded next to its latencies, with
what other processes on the machine used meanwhile (a busy machine shows there, not as a slow server).
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

HISTORY_TURNS = 3  # what the web chat sends as history (settings.history_turns' default)


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


def server_env(rate_limit: int) -> dict:
    """This environment with both per-client limits (web chat and HTTP API) raised for the server: the
    API limits per client address, and all simulated sessions share 127.0.0.1."""
    return {**os.environ, "ASSISTANT_RATE_LIMIT_PER_MINUTE": str(rate_limit),
            "ASSISTANT_API_RATE_LIMIT_PER_MINUTE": str(rate_limit)}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process `pid` (Linux /proc), None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine_busy_seconds() -> float | None:
    """CPU time every process on this machine used since boot, all cores (Linux /proc/stat: every
    state but idle and iowait), None where it cannot be read."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# One simulated session: `make_session(url)` returns `ask(question) -> ok`; it raises on failure.

def web_session(url: str):
    """A gradio_client session: it sends only the question, as the browser does; its conversation (the
    history and the chat it gets back whole) is kept in the server's session state.

    ssl_verify=False: the server is plain HTTP on loopback, so no certificate is ever checked, but with
    verification on, gradio_client builds two fresh httpx clients per question (the POST that joins
    the queue and the event stream), and each loads the CA bundle: about 20 ms of CPU each, 67 ms of
    generator CPU per answer in all (4-5 ms without), taken from the 2 cores the server runs on."""
    from gradio_client import Client

    client = Client(url, verbose=False, ssl_verify=False)

    def ask(question: str) -> bool:
        result = client.predict(question, api_name="/ask")
        chat = result[0] if isinstance(result, (list, tuple)) else result
        last = str(chat[-1]) if chat else ""
        return 'class="cite"' in last or 'class="refusal"' in last  # a cited answer, or a refusal

    return ask


class ApiError(Exception):
    pass


def api_session(url: str):
    """A keep-alive HTTP session on POST /api/ask; the session's last questions go as `history`, as the
    web chat sends them."""
    import httpx

    client = httpx.Client(base_url=url.rstrip("/"), timeout=120, trust_env=False)
    asked: list[str] = []

    def ask(question: str) -> bool:
        response = client.post("/api/ask", json={"question": question, "history": asked[-HISTORY_TURNS:]})
        if response.status_code != 200:
            try:
                message = response.json()["error"]["message"]
            except Exception:  # noqa: BLE001 - only for the error label
                message = response.text
            raise ApiError(f"HTTP {response.status_code}: {message[:60]}")
        body = response.json()
        asked.append(question)
        return bool(body.get("refused") or (body.get("citations") and body.get("answer")))

    return ask


SESSIONS = {"web": web_session, "api": api_session}


def sequential(url: str, count: int = 10, target: str = "web") -> dict:
    """What one user sees: `count` questions one after another in one conversation."""
    ask, latencies = SESSIONS[target](url), []
    for question in QUESTIONS[:count]:
        started = time.perf_counter()
        ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"questions": count, "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1), "samples_ms": [round(x, 1) for x in latencies]}


def run_load(urls: list[str], sessions: int, seconds: float, think: float, target: str = "web",
             server_pids: list[int] | None = None) -> dict:
    """`sessions` threads in this process, each its own session (own history, through the web chat or
    the HTTP API), asking in a loop with a pause between questions, for `seconds`; bounded in count and
    time, loopback only. With `server_pids`, the CPU time the server processes and this generator used."""
    latencies, errors, lock = [], [], threading.Lock()  # latencies: every answered request, cited or not
    uncited = [0]
    stop_at = time.time() + seconds
    questions = itertools.cycle(QUESTIONS)
    make_session = SESSIONS[target]

    def session(i: int) -> None:
        try:
            ask = make_session(urls[i % len(urls)])
        except Exception as exc:  # noqa: BLE001 - counted, reported
            with lock:
                errors.append(f"connect: {exc.__class__.__name__}")
            return
        while time.time() < stop_at:
            with lock:
                question = next(questions)
            started = time.perf_counter()
            try:
                ok = ask(question)
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    if not ok:
                        uncited[0] += 1
                        errors.append("answer without citation")
            except Exception as exc:  # noqa: BLE001
                with lock:
                    errors.append(str(exc)[:80] or exc.__class__.__name__)
            time.sleep(think)

    server_pids = server_pids or []
    server_cpu0 = [cpu_seconds(pid) for pid in server_pids]
    own_cpu0, busy0 = time.process_time(), machine_busy_seconds()
    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(sessions)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.time() - started
    own_cpu, busy1 = time.process_time() - own_cpu0, machine_busy_seconds()
    server_cpu = [None if a is None or cpu_seconds(p) is None else cpu_seconds(p) - a
                  for p, a in zip(server_pids, server_cpu0)]
    kinds: dict[str, int] = {}
    for error in errors:
        kinds[error] = kinds.get(error, 0) + 1
    cores = os.cpu_count() or 1
    ok = len(latencies) - uncited[0]
    answers_per_s = ok / elapsed
    result = {"target": target, "sessions": sessions, "seconds": round(elapsed, 1), "think_s": think,
              "requests": len(latencies) + len(errors) - uncited[0], "ok": ok, "errors": len(errors),
              "error_kinds": kinds, "throughput_rps": round(answers_per_s, 2), "cores": cores,
              "answers_per_s_per_core": round(answers_per_s / cores, 2),
              "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
              "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
              "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
              "generator_pid": os.getpid(), "generator_cpu_s": round(own_cpu, 1)}
    if server_pids:
        result.update(server_pids=server_pids,
                      server_cpu_s=[None if c is None else round(c, 1) for c in server_cpu])
        if all(c is not None for c in server_cpu):
            # share of the machine's CPU time (elapsed x cores) each side used in this phase
            result["server_cpu_share"] = round(sum(server_cpu) / (elapsed * cores), 2)
            result["generator_cpu_share"] = round(own_cpu / (elapsed * cores), 2)
            result["server_cpu_ms_per_answer"] = round(sum(server_cpu) * 1000 / max(ok, 1), 1)
            if busy0 is not None and busy1 is not None:
                # Whatever else ran on the machine meanwhile (other test runs share these cores): a
                # run with a large share here measured a busy machine, not this server.
                other = max(0.0, busy1 - busy0 - sum(server_cpu) - own_cpu)
                result["other_cpu_s"] = round(other, 1)
                result["other_cpu_share"] = round(other / (elapsed * cores), 2)
    return result


def bench_target(target: str, args) -> dict:
    """One fresh server for `target`: serve-to-first-page, one sequential user, the sessions under load,
    then (unless --overload 0) the past-the-limit phase."""
    from tests.conftest import free_port

    port = free_port()
    proc = start_server(port, server_env(args.server_rate_limit))
    assert proc.pid != os.getpid()  # the server is another process; the session threads live here
    try:
        url = f"http://127.0.0.1:{port}/"
        one_user = sequential(url, target=target)
        normal = run_load([url], args.sessions, args.seconds, args.think, target, [proc.pid])
        overload = run_load([url], args.overload, 20, 0.0, target, [proc.pid]) if args.overload else None
    finally:
        stop_server(proc)
    return {"target": target, "serve_to_first_page_s": proc.ready_s, "sequential": one_user, "normal": normal,
            "overload": overload, "think_s": args.think, "server_rate_limit_per_minute": args.server_rate_limit,
            "generator_pid": os.getpid(), "server_pid": proc.pid}


def rows_for(result: dict) -> list[tuple[str, str, str, str]]:
    one_user, normal, overload = result["sequential"], result["normal"], result["overload"]
    how = "web chat (gradio_client)" if result["target"] == "web" else "HTTP API (POST /api/ask)"
    rows = [(f"[{result['target']}] `assistant serve` to first page", f"{result['serve_to_first_page_s']} s", how, ""),
            ("10 sequential questions p50 / p95 (ms)", f"{one_user['p50_ms']} / {one_user['p95_ms']}", "one session", ""),
            (f"{normal['sessions']} sessions, {normal['seconds']} s, {normal['think_s']} s pause",
             f"{normal['requests']} requests, {normal['errors']} errors",
             f"{normal['throughput_rps']} answers/s ({normal['answers_per_s_per_core']}/core, "
             f"{normal['cores']} cores)", "errors 0"),
            ("latency p50 / p95 / p99 (ms)", f"{normal['p50_ms']} / {normal['p95_ms']} / {normal['p99_ms']}", "",
             "p95 <= 1500" if result["target"] == "web" else "p95 <= 500")]  # the API answers no page
    if "server_cpu_share" in normal:
        other = "other_cpu_s" in normal
        rows.append(("CPU used: server / load generator" + (" / other processes" if other else ""),
                     f"{normal['server_cpu_s'][0]} / {normal['generator_cpu_s']}"
                     + (f" / {normal['other_cpu_s']}" if other else "") + " s",
                     f"{normal['server_cpu_share']:.0%} / {normal['generator_cpu_share']:.0%}"
                     + (f" / {normal['other_cpu_share']:.0%}" if other else "") + " of the machine; server "
                     f"{normal['server_cpu_ms_per_answer']} ms per answer", ""))
    if overload:
        rows.append((f"past the limit: {overload['sessions']} sessions, no pause",
                     f"{overload['ok']} ok, {overload['errors']} refused", str(overload["error_kinds"])[:60],
                     "fast refusal, no hang"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["web", "api", "both"], default="web",
                        help="the web chat (gradio_client), the HTTP API (POST /api/ask), or both, one after the other")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0, help="pause between a session's questions (s)")
    parser.add_argument("--overload", type=int, default=120, help="sessions for the past-the-limit phase (0: skip)")
    parser.add_argument("--server-rate-limit", type=int, default=100_000,
                        help="the server's per-client limits per minute, web and API (ASSISTANT_RATE_LIMIT_PER_MINUTE,"
                             " ASSISTANT_API_RATE_LIMIT_PER_MINUTE)")
    args = parser.parse_args()
    for target in (["web", "api"] if args.target == "both" else [args.target]):
        result = bench_target(target, args)
        path = save("webload" if target == "web" else "webload_api", result)
        print(table(rows_for(result)))
        print(f"\nwritten {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
