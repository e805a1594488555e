"""Time and peak memory the HumanSense hooks add per question, next to the adapter's own time.

    python benchmarks/hooks.py                 # sample set + 3,882 generated records + tiny Omni model
    python benchmarks/hooks.py --no-model      # hooks only

Each hook is timed per question over every doc of a set after one warm-up pass (so the audio
cache, the silent-copy cache and the probe cache are warm: what a second question on a clip, or a
rerun, pays).  Peak memory is the largest Python allocation peak (tracemalloc) of one call.
The 3,882-record set has the paper's per-task counts over a few generated clips per task (the real
benchmark also asks several questions per clip).  Results are written down in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

# The generated roots and tiny checkpoints are test scaffolding (tests/), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _setup_env(tmp: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ["HF_HOME"] = str(tmp / "hf_home")
    os.environ["HUMANSENSE_CACHE"] = str(tmp / "cache")
    os.environ["XDG_CACHE_HOME"] = str(tmp / "xdg")


def full_size_root(target: Path) -> Path:
    """A root with the paper's 3,882 questions (per-task counts as published) over 2 clips per task."""
    from fixture_data import make_record, make_root

    from lmms_humansense.catalog import TASKS
    from lmms_humansense.data.root import AQA_FILE, VQA_FILE

    make_root(target, per_task=2, share_clips=False)
    vqa, aqa = [], []
    for task in TASKS:
        for i in range(task.paper_count):
            stem = f"{task.code.lower()}_{i % 2:03d}"
            media = f"data/videos/{stem}.mp4" if task.has_video else f"data/audios/{stem}.wav"
            (vqa if task.has_video else aqa).append(make_record(task, i, media, fps=8, frames=16))
    (target / VQA_FILE).write_text(json.dumps(vqa), encoding="utf-8")
    (target / AQA_FILE).write_text(json.dumps(aqa), encoding="utf-8")
    return target


def load_docs(root: Path, variants: tuple[str, ...] = ("default",)) -> list[dict[str, Any]]:
    from fixture_data import stub_dataset

    from lmms_humansense import hooks
    from lmms_humansense.catalog import VARIANTS

    os.environ["HUMANSENSE_ROOT"] = str(root)
    docs: list[dict[str, Any]] = []
    for name in variants:
        for task in VARIANTS[name].tasks():
            ds = hooks.process_docs(stub_dataset(task.code, name))
            docs.extend(ds.to_list())
    return docs


def _measure(fn, docs: list[dict[str, Any]]) -> dict[str, float]:
    for doc in docs:  # warm-up: caches filled
        fn(doc)
    times = []
    for doc in docs:
        t = time.perf_counter()
        fn(doc)
        times.append(time.perf_counter() - t)
    peaks = []
    for doc in docs[:: max(1, len(docs) // 50)]:
        tracemalloc.start()
        fn(doc)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return {
        "mean_ms": 1000 * statistics.fmean(times),
        "p95_ms": 1000 * sorted(times)[int(0.95 * (len(times) - 1))],
        "peak_kib": max(peaks) / 1024,
    }


def bench_hooks(docs: list[dict[str, Any]], model: str | None) -> dict[str, dict[str, float]]:
    from lmms_humansense import hooks

    kwargs = {"run_model": model}
    response = ["The answer is B."]
    return {
        "doc_to_text": _measure(lambda d: hooks.doc_to_text(d, kwargs), docs),
        "doc_to_messages": _measure(lambda d: hooks.doc_to_messages(d, kwargs), docs),
        "doc_to_visual": _measure(lambda d: hooks.doc_to_visual(d, kwargs), docs),
        "doc_to_audio": _measure(hooks.doc_to_audio, docs),
        "process_results": _measure(lambda d: hooks.process_results(d, response), docs),
    }


def bench_adapter(docs: list[dict[str, Any]], tmp: Path) -> dict[str, float]:
    """The tiny Omni model: the adapter's input preparation alone, and a whole answer (8 tokens)."""
    from tiny_models import build_tiny_omni

    from lmms_humansense import hooks
    from lmms_humansense.catalog import TASKS
    from lmms_humansense.models.omni import HumanSenseOmni

    model = HumanSenseOmni(pretrained=str(build_tiny_omni(tmp / "tiny_omni")), device="cpu", dtype="float32")
    one_per_task = [next(d for d in docs if d["task"] == t.code) for t in TASKS]
    prep, whole = [], []
    for doc in one_per_task:
        model.answer(doc, hooks.doc_to_text(doc), {"max_new_tokens": 8})  # warm-up
    for doc in one_per_task:
        prompt = hooks.doc_to_text(doc)
        t = time.perf_counter()
        model.inputs_for(doc, prompt)
        prep.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.answer(doc, prompt, {"max_new_tokens": 8})
        whole.append(time.perf_counter() - t)
    return {"inputs_mean_ms": 1000 * statistics.fmean(prep), "answer_mean_ms": 1000 * statistics.fmean(whole)}


def _table(title: str, rows: dict[str, dict[str, float]], n: int) -> str:
    lines = [f"{title} ({n} questions)", "| hook | mean ms | p95 ms | peak KiB |", "|---|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['mean_ms']:.3f} | {r['p95_ms']:.3f} | {r['peak_kib']:.1f} |")
    total = sum(r["mean_ms"] for r in rows.values())
    lines.append(f"| **all hooks** | **{total:.3f}** | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-model", action="store_true", help="skip the tiny-model adapter timing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        _setup_env(tmp)
        from lmms_humansense import sample_root

        sets = {"sample set": sample_root(), "3,882 generated records": full_size_root(tmp / "full")}
        for title, root in sets.items():
            t = time.perf_counter()
            docs = load_docs(root)
            load_s = time.perf_counter() - t
            print(f"\n{title}: process_docs for 15 tasks {load_s:.2f} s ({1000 * load_s / len(docs):.3f} ms/question)")
            print(_table(f"{title}, wrapper unknown or vision-only", bench_hooks(docs, None), len(docs)))
            print(
                _table(f"{title}, a track-playing wrapper (qwen2_5_omni)", bench_hooks(docs, "qwen2_5_omni"), len(docs))
            )
        noaudio = load_docs(sets["3,882 generated records"], ("noaudio",))
        print(_table("noaudio variant, 3,882-record root", bench_hooks(noaudio, None), len(noaudio)))
        if not args.no_model:
            r = bench_adapter(load_docs(sets["sample set"]), tmp)
            print(
                f"\nhumansense_omni, tiny model, CPU, one question per task: input preparation "
                f"{r['inputs_mean_ms']:.1f} ms, whole answer (8 new tokens) {r['answer_mean_ms']:.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
