"""Recorders for what lmms-eval's wrappers hand on: a processor call, or a request on the wire.

Test scaffolding only.  Nothing here replaces the code it watches: the processor recorder wraps the
real ``__call__`` (which still runs), and the HTTP stand-in is an OpenAI-compatible chat endpoint of
the tests' own, used where the real client would need the OpenAI API (a recording stand-in, said as
such in docs/wrappers.md).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The content part types the OpenAI Chat Completions API defines for a user message (its API
#: reference; read, not run): anything else is refused with HTTP 400 by the stand-in, as the API does.
OPENAI_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file"})
RECORD_ENV = "HUMANSENSE_TEST_RECORD"


def _shape(value: Any) -> list[int] | None:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return [int(s) for s in shape]
    if isinstance(value, list) and value and hasattr(value[0], "size") and not hasattr(value[0], "shape"):
        return [len(value), *value[0].size[::-1]]  # a list of PIL frames: (n, h, w)
    return None


def _processor_call(original: Any) -> Any:
    def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        videos = kwargs.get("videos") or []
        entry = {
            "processor": type(self).__name__,
            "videos": [_shape(v) for v in (videos if isinstance(videos, (list, tuple)) else [videos])],
            "images": len(kwargs.get("images") or []),
            "audio": any(kwargs.get(k) is not None for k in ("audio", "audios")),
        }
        with open(os.environ[RECORD_ENV], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        return original(self, *args, **kwargs)

    return recorded


def install_processor_recorder(class_name: str) -> None:
    """Wrap ``transformers.<class_name>.__call__`` so each call appends what it got to $HUMANSENSE_TEST_RECORD."""
    import transformers

    cls = getattr(transformers, class_name)
    if not getattr(cls.__call__, "_recorded", False):
        cls.__call__ = _processor_call(cls.__call__)
        cls.__call__._recorded = True  # type: ignore[attr-defined]


#: Printed to stdout and stderr before and after each run of :func:`run_several` (lmms-eval's CLI
#: logs to stdout, Python's logging and tracebacks go to stderr), so a test can cut both.
RUN_MARK = "=== wrapper run "


def _cli(argv: list[str]) -> int:
    from lmms_eval.cli.dispatch import main as lmms_eval_main

    sys.argv = ["lmms-eval", *argv]
    try:
        return int(lmms_eval_main() or 0)
    except SystemExit as exc:  # the CLI's own exit status, as a user's shell would see it
        return exc.code if isinstance(exc.code, int) else 1


def _mark(text: str) -> None:
    for stream in (sys.stdout, sys.stderr):
        print(f"{RUN_MARK}{text}", file=stream, flush=True)


def run_several(spec: list[dict[str, Any]]) -> list[int]:
    """Several ``lmms-eval`` CLI runs in this one process (the imports, about 13 CPU-s, paid once):
    each run a dict of ``argv``, and optionally ``record`` (its record file), ``processor`` (a class
    to record), ``env`` (variables set for this run only, such as ``HUMANSENSE_ROOT``: the hooks read
    them per call and keep no state between runs) and ``cwd``.  The exit status of each is printed
    after it."""
    codes = []
    for i, run in enumerate(spec):
        if run.get("processor"):
            install_processor_recorder(run["processor"])
        saved = dict(os.environ)
        os.environ.update(run.get("env", {}))
        if run.get("record"):
            os.environ[RECORD_ENV] = run["record"]
        here = os.getcwd()
        os.chdir(run.get("cwd", here))
        _mark(f"{i} start")
        try:
            codes.append(_cli(run["argv"]))
        finally:
            os.chdir(here)
            os.environ.clear()
            os.environ.update(saved)
        _mark(f"{i} rc={codes[-1]}")
    return codes


def _chunks(text: str) -> list[tuple[int | None, str]]:
    out: list[list[Any]] = []
    for chunk in text.split(RUN_MARK)[1:]:
        head, _, body = chunk.partition("\n")
        if head.endswith("start"):
            out.append([None, body])
        else:
            out[-1][0] = int(head.split("rc=")[1])
    return [(rc, body) for rc, body in out]


def split_log(stdout: str, stderr: str) -> list[tuple[int | None, str]]:
    """(exit status, stdout + stderr) of each run of :func:`run_several`."""
    return [(rc, out + err) for (rc, out), (_, err) in zip(_chunks(stdout), _chunks(stderr), strict=True)]


def main() -> int:
    """``python wrapper_recorder.py PROCESSOR_CLASS -- LMMS_EVAL_ARGS...``: the lmms-eval CLI with a
    recorder; ``python wrapper_recorder.py --runs SPEC.json``: :func:`run_several`."""
    if sys.argv[1] == "--runs":
        with open(sys.argv[2], encoding="utf-8") as fh:
            run_several(json.load(fh))
        return 0
    class_name, rest = sys.argv[1], sys.argv[3:]
    install_processor_recorder(class_name)
    return _cli(rest)


class _Handler(BaseHTTPRequestHandler):
    server: _RecordingServer

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        return

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append({"path": self.path, "body": body})
        parts = [p for m in body.get("messages", []) if isinstance(m.get("content"), list) for p in m["content"]]
        unknown = sorted({str(p.get("type")) for p in parts} - OPENAI_PART_TYPES)
        empty = self.path.startswith("/empty/")
        if unknown and not empty:
            self._send(
                400, {"error": {"message": f"Invalid content part type(s): {unknown}", "type": "invalid_request_error"}}
            )
            return
        text = "" if empty else "A"
        self._send(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "stand-in"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _RecordingServer(ThreadingHTTPServer):
    requests: list[dict[str, Any]]


@contextmanager
def openai_stand_in() -> Iterator[_RecordingServer]:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 (a free port) that records every request body.

    ``/v1``: answers "A", refusing (HTTP 400) a message with a part type the OpenAI API does not
    define; ``/empty/v1``: accepts every request and answers an empty string, as a served model
    that produced nothing.
    """
    server = _RecordingServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
