"""Bench scale-out: one `chroma run` server, two `assistant serve` workers sharing it.

Checks the workers give the same answers as embedded mode, then measures concurrent throughput
through one worker and through both. Usage: python bench/server.py [--sessions 16] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, save, table  # noqa: E402
from bench.webload import run_load, start_server, stop_server  # noqa: E402
from tests.test_store_server import start_chroma  # noqa: E402


def answers_over_http(url: str) -> list[str]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = []
    for question in QUESTIONS:
        client.predict(api_name="/new_conversation")
        chat = client.predict(question, api_name="/ask")[0]
        content = chat[-1]["content"] if isinstance(chat[-1], dict) else chat[-1]
        if isinstance(content, list):  # Gradio 6 sends message content as a list of typed parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        out.append(str(content))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    from assistant.app import Assistant
    from assistant.config import PROJECT_ROOT, Settings
    from tests.conftest import free_port
    from ui import render

    root = Path(tempfile.mkdtemp(prefix="server-bench-"))
    procs = []
    try:
        chroma_port = free_port()
        procs.append(start_chroma(root / "chroma", chroma_port))
        url = f"http://127.0.0.1:{chroma_port}"
        env = {**os.environ, "ASSISTANT_CHROMA_URL": url, "ASSISTANT_DATA_DIR": str(root / "data"),
               "ASSISTANT_CORPUS_DIR": str(PROJECT_ROOT / "corpus"), "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0"}
        subprocess.run([sys.executable, "-m", "assistant", "index", "--json"], env=env, check=True,
                       capture_output=True)
        embedded = Assistant.from_settings(Settings(index_dir=root / "embedded", data_dir=root / "data"))
        embedded.ensure_index(progress=False)
        # Rendered as the web chat renders them: with links to the cited passages (since 2026-11-29).
        expected = [render.answer_message(embedded.ask(q), embedded.links) for q in QUESTIONS]
        ports = [free_port(), free_port()]
        workers = [start_server(port, env) for port in ports]
        procs += workers
        urls = [f"http://127.0.0.1:{port}/" for port in ports]
        same = [answers_over_http(u) == expected for u in urls]
        one = run_load(urls[:1], args.sessions, args.seconds, 0.0)
        two = run_load(urls, args.sessions, args.seconds, 0.0)
    finally:
        for proc in reversed(procs):
            try:
                stop_server(proc)
            except ProcessLookupError:
                pass
        shutil.rmtree(root, ignore_errors=True)
    path = save("server", {"same_answers_as_embedded": same, "one_worker": one, "two_workers": two})
    print(table([
        ("answers through chroma run = embedded", str(all(same)), f"{len(QUESTIONS)} questions x 2 workers", "True"),
        (f"throughput, 1 worker ({args.sessions} sessions)", f"{one['throughput_rps']} answers/s",
         f"p95 {one['p95_ms']} ms, {one['errors']} errors", ""),
        (f"throughput, 2 workers ({args.sessions} sessions)", f"{two['throughput_rps']} answers/s",
         f"p95 {two['p95_ms']} ms, {two['errors']} errors", "2 cores: CPU-bound"),
    ]))
    print(f"\nwritten {path}")
    return 0 if all(same) else 1


if __name__ == "__main__":
    raise SystemExit(main())
