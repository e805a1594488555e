"""Wall time of one tiny-model HumanSense run with 1 and with 2 processes, side by side.

    python benchmarks/multiprocess.py                    # 3 rounds, 8 questions per task (120)
    python benchmarks/multiprocess.py --rounds 2 --per-task 48 --tokens 256   # the written figure

A short run is mostly the fixed cost every process pays (imports, lmms-eval's task index), so the
speed-up shows only once the model's work outweighs it (see benchmarks/README.md).

The same ``humansense_omni`` run (tiny random-weight Qwen2.5-Omni, greedy, 16 new tokens, CPU) is
started as a user starts it: ``python -m lmms_eval`` and ``torchrun --standalone --nproc_per_node 2
-m lmms_eval``.  The rounds alternate 1 and 2 processes, so a load change on a shared machine hits
both; a warm-up run fills the audio cache first (every timed run shares it, as reruns do).  Each
row also gives the model's own time summed over the questions (``acc.fed.seconds``), so the fixed
cost of a run (imports, task indexing, dataset build, writing results) shows as the rest.
Results are written down in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The generated roots and tiny checkpoints are test scaffolding (tests/), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def run(nproc: int, model: Path, tmp: Path, root: Path, out: Path, tokens: int) -> tuple[float, float]:
    """Wall seconds of one run and the model's seconds summed over its questions."""
    from conftest import cli_env  # the tests' offline, isolated environment for a subprocess

    head = [sys.executable, "-m", "lmms_eval"]
    if nproc > 1:
        torchrun = str(Path(sys.executable).parent / "torchrun")
        head = [torchrun, "--standalone", "--nproc_per_node", str(nproc), "-m", "lmms_eval"]
    args = ["--model", "humansense_omni", "--model_args", f"pretrained={model},dtype=float32"]
    args += ["--tasks", "humansense", "--gen_kwargs", f"max_new_tokens={tokens}"]
    args += ["--output_path", str(out), "--log_samples"]
    start = time.perf_counter()
    proc = subprocess.run(head + args, env=cli_env(tmp, root), cwd=tmp, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not list(out.rglob("*_results.json")):
        sys.exit(f"run with {nproc} process(es) failed:\n{proc.stderr[-3000:]}")
    model_seconds = 0.0
    for path in out.rglob("*_samples_*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                model_seconds += json.loads(line)["acc"]["fed"]["seconds"]
    return wall, model_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-task", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=16)
    opts = parser.parse_args()

    from fixture_data import make_root
    from tiny_models import build_tiny_omni

    with tempfile.TemporaryDirectory(prefix="humansense-mp-bench-") as name:
        tmp = Path(name)
        root = make_root(tmp / "root", per_task=opts.per_task)
        model = build_tiny_omni(tmp / "tiny_omni")
        questions = 15 * opts.per_task
        run(1, model, tmp, root, tmp / "warmup", opts.tokens)
        rows: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for r in range(opts.rounds):
            for nproc in (1, 2) if r % 2 == 0 else (2, 1):
                wall, model_s = run(nproc, model, tmp, root, tmp / f"out-{r}-{nproc}", opts.tokens)
                rows[nproc].append((wall, model_s))
                print(f"round {r + 1}: {nproc} process(es) {wall:6.1f} s wall, model {model_s:6.1f} s", flush=True)
        print(f"\n{questions} questions, {opts.tokens} new tokens, {os.cpu_count()} CPU cores")
        print("| round | 1 process | 2 processes | speed-up |\n|---:|---:|---:|---:|")
        for r, (one, two) in enumerate(zip(rows[1], rows[2], strict=True), 1):
            print(f"| {r} | {one[0]:.1f} s | {two[0]:.1f} s | {one[0] / two[0]:.2f}x |")
        med1 = statistics.median(w for w, _ in rows[1])
        med2 = statistics.median(w for w, _ in rows[2])
        print(f"| median | {med1:.1f} s | {med2:.1f} s | **{med1 / med2:.2f}x** |")
        m1 = statistics.median(m for _, m in rows[1])
        m2 = statistics.median(m for _, m in rows[2])
        print(f"model seconds summed over the questions (median): 1 process {m1:.1f} s, 2 processes {m2:.1f} s")


if __name__ == "__main__":
    main()
