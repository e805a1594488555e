"""Questions per second of ``humansense_omni`` with the tiny models: batch 1 / 4 / 8, prepared ahead on / off.

    python benchmarks/omni.py                        # the paper's 3,882 generated questions (hours on 2 cores)
    python benchmarks/omni.py --per-task 4           # 4 questions per task (60), what benchmarks/README.md shows
    python benchmarks/omni.py --arch qwen3 --batches 1 8

The root (``tests/fixture_data.make_paper_root``) has the paper's per-task counts (or ``--per-task``
of them) over one generated clip per task (2 s, 32x32, h264 + AAC), the ``default`` variant.  Each configuration answers every question
through :meth:`HumanSenseOmni.answers` (the code ``generate_until`` runs, without lmms-eval's task
set-up), after a warm-up on one question per task (model load, audio cache and first-call costs
are left out), in ``--repeat`` rounds in which the configurations take turns; the median is shown.  Tiny random-weight models spend little time generating, so these ratios show what
preparing ahead and batching save on the CPU side; on a GPU with a 7B model the generate share grows.
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-task", type=int, default=None, help="questions per task (default: the paper's counts)")
    parser.add_argument("--arch", choices=("qwen2_5", "qwen3", "both"), default="both")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--ahead", type=int, nargs="+", default=[0, 2], help="prepare_ahead values (0 = off)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over every configuration (median shown)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp / "hf"))
        os.environ["HUMANSENSE_CACHE"] = str(tmp / "cache")
        from fixture_data import make_paper_root
        from tiny_models import build_tiny_omni, build_tiny_qwen3_omni

        from lmms_humansense.models.omni import HumanSenseOmni

        qs = questions(make_paper_root(tmp / "root"), args.per_task)
        warm = [next(q for q in qs if q.doc["task"] == code) for code in dict.fromkeys(q.doc["task"] for q in qs)]
        builders = {"qwen2_5": build_tiny_omni, "qwen3": build_tiny_qwen3_omni}
        chosen = list(builders) if args.arch == "both" else [args.arch]
        print(f"{len(qs)} questions; torch threads {__import__('torch').get_num_threads()}; {args.repeat} rounds")
        models = {}
        for arch in chosen:
            path = builders[arch](tmp / arch)
            for size in args.batches:
                model = HumanSenseOmni(pretrained=str(path), device="cpu", dtype="float32", batch_size=size)
                for _ in model.answers(warm):
                    pass
                models[arch, size] = model
        times: dict[tuple[str, int, int], list[float]] = {}
        for _ in range(args.repeat):  # configurations take turns, so a busy spell of a shared machine hits all
            for (arch, size), model in models.items():
                for ahead in args.ahead:
                    model.prepare_ahead = ahead
                    start = time.perf_counter()
                    answered = sum(1 for _ in model.answers(qs))
                    times.setdefault((arch, size, ahead), []).append(time.perf_counter() - start)
                    assert answered == len(qs)
        print("| model | batch | prepared ahead | median seconds (range) | questions/s (median) |")
        print("|---|---:|---:|---:|---:|")
        for (arch, size, ahead), runs in times.items():
            label = "Qwen2.5-Omni" if arch == "qwen2_5" else "Qwen3-Omni-MoE"
            mid = statistics.median(runs)
            print(
                f"| tiny {label} | {size} | {ahead or 'off'} | {mid:.1f} ({min(runs):.1f}-{max(runs):.1f}) "
                f"| {len(qs) / mid:.2f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
