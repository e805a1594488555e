"""Questions per second of ``humansense_omni`` with the tiny models: batch 1 / 4 / 8, prepared ahead on / off.

    python benchmarks/omni.py --out omni.json        # the paper's 3,882 generated questions, 8 chunks
    python benchmarks/omni.py --per-task 4 --chunks 1 --repeat 3   # 4 questions per task (60)
    python benchmarks/omni.py --arch qwen3 --batches 1 8

The root (``tests/fixture_data.make_paper_root``) has the paper's per-task counts (or ``--per-task``
of them) over one generated clip per task (2 s, 32x32, h264 + AAC), the ``default`` variant.  Each
configuration answers questions through :meth:`HumanSenseOmni.answers` (the code ``generate_until``
runs, without lmms-eval's task set-up), after a warm-up on two questions per task (model load,
audio cache and first-call costs are left out).

On a shared machine the load changes during a long run, so the configurations take turns: the
questions are split into ``--chunks`` seeded random parts (each part in task order, as lmms-eval
hands a run over), and every configuration answers a part before the next part starts, in an
order that rotates from part to part.  After each part the table so far is printed and written to
``--out``, so a run stopped early still compares every configuration on the same questions.
Tiny random-weight models spend little time generating, so these ratios show what preparing ahead
and batching save on the CPU side; on a GPU with a 7B model the generate share grows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The generated roots and tiny checkpoints are test scaffolding (tests/), not part of the package.
# tests/ replaces this script's own folder on the path: benchmarks/multiprocess.py would otherwise
# shadow the `multiprocess` package that `datasets` imports.
sys.path[0] = str(Path(__file__).resolve().parent.parent / "tests")


def questions(root: Path, per_task: int | None) -> list[Any]:
    from fixture_data import stub_dataset

    from lmms_humansense import hooks
    from lmms_humansense.catalog import TASKS
    from lmms_humansense.models.omni import Question

    os.environ["HUMANSENSE_ROOT"] = str(root)
    docs: list[dict[str, Any]] = []
    for task in TASKS:
        docs += hooks.process_docs(stub_dataset(task.code)).to_list()
    if per_task:
        kept: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            kept.setdefault(doc["task"], [])
            if len(kept[doc["task"]]) < per_task:
                kept[doc["task"]].append(doc)
        docs = [doc for task_docs in kept.values() for doc in task_docs]
    return [
        Question(i, d, hooks.doc_to_text(d), {"max_new_tokens": 8, "until": ["\n\n"]}, hooks.question_kind(d))
        for i, d in enumerate(docs)
    ]


def chunks(qs: list[Any], count: int, seed: int = 0) -> list[list[Any]]:
    """``count`` disjoint random parts of ``qs`` (seeded), each in the original (task) order."""
    import random

    order = list(range(len(qs)))
    random.Random(seed).shuffle(order)
    return [reindexed([qs[i] for i in sorted(order[k::count])]) for k in range(count)]


def reindexed(qs: list[Any]) -> list[Any]:
    """``qs`` numbered 0.. in their order: :meth:`HumanSenseOmni.answers` hands answers back by that number."""
    import dataclasses

    return [dataclasses.replace(q, index=i) for i, q in enumerate(qs)]


def table(times: dict[tuple[str, int, int], list[tuple[int, float, float]]]) -> str:
    """The Markdown table per configuration over the parts answered so far: wall-clock questions/s
    and the CPU milliseconds the process spent per question (all its threads), which a busy
    machine changes much less than the wall clock."""
    lines = [
        "| model | batch | prepared ahead | questions | seconds | questions/s | slowest part, q/s | CPU ms per question |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (arch, size, ahead), parts in times.items():
        label = "Qwen2.5-Omni" if arch == "qwen2_5" else "Qwen3-Omni-MoE"
        n, seconds, cpu = (sum(p[i] for p in parts) for i in range(3))
        slowest = min(p[0] / p[1] for p in parts)
        lines.append(
            f"| tiny {label} | {size} | {ahead or 'off'} | {n} | {seconds:.1f} | {n / seconds:.2f} | {slowest:.2f} "
            f"| {1000 * cpu / n:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-task", type=int, default=None, help="questions per task (default: the paper's counts)")
    parser.add_argument("--arch", choices=("qwen2_5", "qwen3", "both"), default="both")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--ahead", type=int, nargs="+", default=[0, 2], help="prepare_ahead values (0 = off)")
    parser.add_argument("--chunks", type=int, default=8, help="parts the configurations take turns on")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over every part")
    parser.add_argument("--out", type=Path, default=None, help="JSON file rewritten after every part")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own, the cores)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp / "hf"))
        os.environ["HUMANSENSE_CACHE"] = str(tmp / "cache")
        import torch
        from fixture_data import make_paper_root
        from tiny_models import build_tiny_omni, build_tiny_qwen3_omni

        from lmms_humansense.models.omni import HumanSenseOmni

        if args.threads:
            torch.set_num_threads(args.threads)
        qs = questions(make_paper_root(tmp / "root"), args.per_task)
        warm = [
            q for code in dict.fromkeys(q.doc["task"] for q in qs) for q in [x for x in qs if x.doc["task"] == code][:2]
        ]
        builders = {"qwen2_5": build_tiny_omni, "qwen3": build_tiny_qwen3_omni}
        chosen = list(builders) if args.arch == "both" else [args.arch]
        print(
            f"{len(qs)} questions in {args.chunks} parts; torch threads {torch.get_num_threads()}; {args.repeat} rounds"
        )
        models = {}
        for arch in chosen:
            path = builders[arch](tmp / arch)
            for size in args.batches:
                model = HumanSenseOmni(pretrained=str(path), device="cpu", dtype="float32", batch_size=size)
                for _ in model.answers(warm):
                    pass
                models[arch, size] = model
        configs = [(arch, size, ahead) for (arch, size) in models for ahead in args.ahead]
        times: dict[tuple[str, int, int], list[tuple[int, float, float]]] = {c: [] for c in configs}
        started = time.time()
        for round_ in range(args.repeat):
            for k, part in enumerate(chunks(qs, args.chunks)):
                turn = (round_ * args.chunks + k) % len(configs)
                for arch, size, ahead in configs[turn:] + configs[:turn]:
                    model = models[arch, size]
                    model.prepare_ahead = ahead
                    start, cpu = time.perf_counter(), time.process_time()
                    answered = sum(1 for _ in model.answers(part))
                    times[arch, size, ahead].append((len(part), time.perf_counter() - start, time.process_time() - cpu))
                    assert answered == len(part)
                done = table(times)
                print(
                    f"after part {k + 1} of {args.chunks} (round {round_ + 1}), {time.time() - started:.0f} s:\n{done}",
                    flush=True,
                )
                if args.out:
                    args.out.write_text(
                        json.dumps(
                            {
                                "questions": len(qs),
                                "parts": args.chunks,
                                "parts_done": k + 1,
                                "round": round_ + 1,
                                "table": done,
                                "times": {str(c): t for c, t in times.items()},
                            },
                            indent=1,
                        )
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
