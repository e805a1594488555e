"""Throughput of ``humansense_openai``: the 3,882 generated questions against a loopback server
that answers every request after a fixed delay, at several concurrencies.

    python benchmarks/served.py                       # delay 20 ms, concurrency 1, 8, 32
    python benchmarks/served.py --delay 0.05 --limit 500 --concurrency 1 8 32

The server runs in its own process (a threaded ``http.server``), so the client's CPU time
(``resource.getrusage``) is the client's alone: preparing each request (decoding the frames at
the official budget, JPEG and WAV encoding, JSON) and sending it.  Results are written down in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Python puts this folder first on sys.path, where multiprocess.py would shadow the library that
# datasets imports; the generated roots are test scaffolding (tests/).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent / "tests"))

REPLY = json.dumps(
    {
        "model": "loopback",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101},
    }
).encode()


def serve(port: int, delay: float) -> None:
    """The loopback server: read the request, wait ``delay`` seconds, answer "A"."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(REPLY)))
            self.end_headers()
            self.wfile.write(REPLY)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    server.serve_forever()


class Request:
    """What lmms-eval hands a simple model's ``generate_until``: an object with ``args``."""

    def __init__(self, doc: dict[str, Any], leaf: str, index: int) -> None:
        self.args = (doc["prompt"], {"max_new_tokens": 16, "temperature": 0, "until": []}, None, index, leaf, "test")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.02, help="server delay per request, seconds")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--limit", type=int, default=0, help="questions, spread over all tasks (0: all 3,882)")
    parser.add_argument(
        "--variant", default="default", help="default (the protocol's media) or blind (text only: the HTTP side alone)"
    )
    parser.add_argument(
        "--media-cache", type=int, default=16, help="the client's media_cache= (0: decode every question)"
    )
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.delay)
        return 0

    import importlib.util
    import socket

    # The hooks benchmark's generated 3,882-question root (benchmarks/ is not a package).
    spec = importlib.util.spec_from_file_location("bench_hooks", HERE / "hooks.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    _setup_env, full_size_root, load_docs = bench._setup_env, bench.full_size_root, bench.load_docs

    tmp = Path(tempfile.mkdtemp(prefix="served_bench_"))
    _setup_env(tmp)
    docs = load_docs(full_size_root(tmp / "root"), (args.variant,))
    if args.limit:
        step = max(1, len(docs) // args.limit)
        docs = docs[::step][: args.limit]
    from lmms_humansense.models.served import HumanSenseServed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--delay", str(args.delay)])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        task_dict: dict[str, Any] = {}
        requests = []
        for doc in docs:
            rows = task_dict.setdefault(doc["task"], {}).setdefault("test", [])
            requests.append(Request(doc, doc["task"], len(rows)))
            rows.append(doc)
        warm = HumanSenseServed(base_url=f"http://127.0.0.1:{port}/v1", model="loopback", concurrency=8)
        warm.task_dict = task_dict
        warm.generate_until(requests[:64])  # caches (decoded WAVs) and imports warm, as after a run's first clips
        rows_out = []
        for c in args.concurrency:
            model = HumanSenseServed(
                base_url=f"http://127.0.0.1:{port}/v1", model="loopback", concurrency=c, media_cache=args.media_cache
            )
            model.task_dict = task_dict
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            answers = model.generate_until(requests)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            assert all(a.fed["outcome"] == "answered" for a in answers)
            prepare = sum(a.fed["prepare_s"] for a in answers) / len(answers)
            rows_out.append({"c": c, "wall": wall, "cpu_ms": 1000 * cpu / len(answers), "prepare_ms": 1000 * prepare})
        base = rows_out[0]["wall"]
        print(
            f"{len(requests)} questions ({args.variant}, media_cache={args.media_cache}), server delay {1000 * args.delay:.0f} ms, {os.cpu_count()} CPUs"
        )
        print("| concurrency | wall | speed-up over C=1 | speed-up / C | client CPU per request | of which preparing |")
        print("|---:|---:|---:|---:|---:|---:|")
        for r in rows_out:
            speed = base / r["wall"]
            print(
                f"| {r['c']} | {r['wall']:.1f} s | {speed:.1f}x | {speed / r['c']:.2f} | {r['cpu_ms']:.2f} ms "
                f"| {r['prepare_ms']:.2f} ms |"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
