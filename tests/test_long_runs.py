"""Long runs survive, through the real lmms-eval CLI: a bad clip costs its questions and nothing
else, a run killed mid-way resumes from its ``resume=`` journal (one and two processes) to the
results and samples of an uninterrupted run, a journal of another run is refused with the fix,
and a cache that cannot hold the run stops it while the tasks load."""

from __future__ import annotations

import json
import math
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import bin_path, cli_env, logged_samples, run_results
from fixture_data import make_root, write_video
from tiny_models import build_tiny_omni

from lmms_humansense.catalog import TASKS

PER_TASK = 3  # the first two questions of a task share clip 000; the third has clip 002 alone
LEAVES = [t.leaf for t in TASKS]
#: The tasks of the `humansense_omni` runs: a bad clip in TR and PC, AR's clips good.
OMNI_LEAVES = ["humansense_tr", "humansense_ar", "humansense_pc"]
#: The damaged clips, each the only clip of one question: which task, and what its error says.
BAD = {
    "humansense_tr": "decoding its sound track reaches only 0.9 s of 2.0 s",
    "humansense_pc": "its sound holds NaN or infinite samples",
    "humansense_fr2": "audio track holds no samples",
    "humansense_er": "its frames do not decode",  # humansense_random gets doc_to_messages: every frame checked
}


def _damage(root: Path) -> None:
    """One clip of each kind the package can meet mid-run, among good ones."""
    import soundfile as sf

    clip = root / "videos" / "tr_002.mp4"  # a faststart mp4 cut at 50 %: it opens, its sound stops early
    data = write_video(clip, seconds=2.0, faststart=True).read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    samples = (0.3 * np.sin(np.arange(32_000) / 10)).astype(np.float32)
    samples[16_000] = float("nan")
    sf.write(str(root / "audios" / "pc_002.wav"), samples, 16_000, subtype="FLOAT")
    sf.write(str(root / "audios" / "fr2_002.wav"), np.zeros(0, np.float32), 16_000)  # an empty WAV
    video = root / "videos" / "er_002.mp4"  # a corrupted middle (zeroed third)
    raw = bytearray(video.read_bytes())
    third = len(raw) // 3
    raw[third : 2 * third] = bytes(third)
    video.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_root(tmp_path_factory.mktemp("long_root"), per_task=PER_TASK)
    _damage(root)
    return root


def _command(nproc: int, model_args: str, tasks: str, out: Path) -> list[str]:
    head = [sys.executable, "-m", "lmms_eval"]
    if nproc > 1:
        head = [bin_path("torchrun"), "--standalone", "--nproc_per_node", str(nproc), "-m", "lmms_eval"]
    return [*head, "--model", _MODEL[model_args.split(":")[0]], "--model_args", model_args.split(":", 1)[1]] + [
        "--tasks",
        tasks,
        "--output_path",
        str(out),
        "--log_samples",
    ]


_MODEL = {"random": "humansense_random", "omni": "humansense_omni", "dummy": "dummy"}


def run(tmp: Path, root: Path, model_args: str, out: str, nproc: int = 1, tasks: str = "humansense") -> Path:
    """One lmms-eval run as a user starts it.  The cache is shared by the runs of one test folder."""
    return run_to_the_end(_command(nproc, model_args, tasks, tmp / out), cli_env(tmp, root), tmp, tmp / out)


def run_to_the_end(command: list[str], env: dict[str, str], cwd: Path, out: Path) -> Path:
    """Run ``command``; a results file is the proof it finished (lmms-eval exits 0 after an
    evaluation error too).  Its log is kept as ``out/log.txt``."""
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and list(out.rglob("*_results.json")), log[-4000:]
    (out / "log.txt").write_text(log, encoding="utf-8")
    return out


def _stable(row: dict[str, Any]) -> dict[str, Any]:
    """A logged sample without what differs between two runs of the same answers (timings)."""
    row = json.loads(json.dumps(row))
    fed = row.get("acc", {}).get("fed")
    if isinstance(fed, dict):
        fed.pop("seconds", None)
    return row


def same_run(one: Path, two: Path, leaves: list[str]) -> None:
    """results.json's numbers and every logged sample equal, timings aside."""
    a, b = run_results(one)["results"], run_results(two)["results"]
    assert a.keys() == b.keys()
    for task in a:
        assert a[task].keys() == b[task].keys(), task
        for key, x in a[task].items():
            y = b[task][key]
            if isinstance(x, float) and isinstance(y, float):  # a 2-process gather adds in another order
                assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(x) and math.isnan(y)), key
            else:
                assert x == y, (task, key)
    for leaf in leaves:
        a = sorted((_stable(r) for r in logged_samples(one, leaf)), key=lambda r: int(r["doc_id"]))
        b = sorted((_stable(r) for r in logged_samples(two, leaf)), key=lambda r: int(r["doc_id"]))
        assert a == b, leaf


def journal_lines(folder: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in folder.glob("answers.rank*.jsonl"))


def cut_journal(source: Path, target: Path, keep: float, rng: random.Random) -> int:
    """What a SIGKILL leaves: each process's file cut after some whole lines plus half a line
    (the journal fsyncs each line before the next question, so at most the last one is partial)."""
    target.mkdir(parents=True)
    kept = 0
    for path in source.glob("answers.rank*.jsonl"):
        lines = path.read_bytes().splitlines(keepends=True)
        n = 1 + int((len(lines) - 1) * keep)
        partial = lines[n][: len(lines[n]) // 2] if n < len(lines) else b""
        (target / path.name).write_bytes(b"".join(lines[:n]) + partial)
        kept += n - 1
    return kept


@pytest.fixture(scope="module")
def whole(root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The uninterrupted 15-task run of the chance-level chat model, journaled; its folder."""
    tmp = tmp_path_factory.mktemp("long_whole")
    return tmp, run(tmp, root, f"random:seed=3,resume={tmp / 'journal'}", "out")


# --- point 1: a bad clip costs its questions, not the run -------------------------------------------------


def test_bad_clips_cost_only_their_questions(whole: tuple[Path, Path]) -> None:
    _, out = whole
    results = run_results(out)["results"]
    for leaf in LEAVES:
        rows = logged_samples(out, leaf)
        assert len(rows) == PER_TASK, leaf
        bad = [r for r in rows if r["acc"]["outcome"] == "media_error"]
        if leaf in BAD:
            assert results[leaf]["not_answered,none"] == 1, leaf
            (row,) = bad
            error = row["acc"]["error"]
            assert error.startswith("HumanSense doc ") and BAD[leaf] in error and "_002." in error, error
            assert "score" not in row["acc"] and row["acc"]["excluded"] == "media_error"
            if leaf == "humansense_fr2":  # the empty WAV: what to do about it
                assert "Fix: replace it with a good copy" in error and "lmms-humansense verify" in error, error
        else:
            assert not bad and results[leaf]["not_answered,none"] == 0, leaf
        assert all(r["acc"]["outcome"] == "answered" for r in rows if r not in bad), leaf
    log = (out / "log.txt").read_text()
    for leaf in BAD:
        code = leaf.removeprefix("humansense_").upper()
        assert f"HumanSense task {code}: 1 of 3 questions could not be asked" in log
    assert "Error during evaluation" not in log


def test_a_clip_that_does_not_open_stops_the_load(tmp_path: Path) -> None:
    """Checked while the tasks load, each file once: an mp4 whose index was cut off (it does not
    open) stops the run before any question, naming the doc, the file and the fix, as a missing
    file does; ``verify`` names the same file.  The first run, on the good clip, left its marker in
    the cache: the damaged file is a new version and is opened again."""
    root = make_root(tmp_path / "root", per_task=2, tasks=[t for t in TASKS if t.code in ("AR", "ER")])
    run(tmp_path, root, "random:seed=3", "good", tasks="humansense_ar")
    assert list((tmp_path / "humansense_cache" / "media_opens").iterdir())
    clip = root / "videos" / "ar_000.mp4"  # shared by AR's two questions
    data = clip.read_bytes()  # the index (moov) is written last: half a file has none
    clip.write_bytes(data[: len(data) // 2])
    proc = subprocess.run(
        _command(1, "random:seed=3", "humansense_ar,humansense_er", tmp_path / "out"),
        env=cli_env(tmp_path, root),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1 and not list((tmp_path / "out").rglob("*.json")), proc.stderr[-3000:]
    said = proc.stderr[proc.stderr.index("HumanSense data error: ") :]
    assert said.startswith("HumanSense data error: 2 HumanSense question(s) reference media that cannot serve"), said
    assert f"{clip}: cannot be opened as a media container" in said and "AR-VQA" in said
    assert "Fix: replace each file with a good copy" in said and "lmms-humansense verify" in said
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "verify", "--root", str(root), "--no-progress", "--workers", "1"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and f"{clip}: cannot be opened as a media container" in proc.stdout, proc.stdout


# --- point 2: a killed run resumes -------------------------------------------------------------------------


@pytest.mark.parametrize("nproc", [1, 2], ids=["one process", "torchrun 2 processes"])
def test_a_killed_run_resumes_to_the_same_results(
    nproc: int, whole: tuple[Path, Path], root: Path, tmp_path: Path
) -> None:
    """The journal cut where a kill would leave it, at a random point, then the same command again."""
    base, out = whole
    source = base / "journal"
    if nproc == 2:  # its own journal, one file per process
        source = tmp_path / "journal2"
        first = run(tmp_path, root, f"random:seed=3,resume={source}", "first", nproc=2)
        same_run(out, first, LEAVES)
        assert sorted(p.name for p in source.iterdir()) == ["answers.rank0.jsonl", "answers.rank1.jsonl"]
    rng = random.Random(nproc)
    cut = tmp_path / "cut"
    kept = cut_journal(source, cut, rng.uniform(0.2, 0.8), rng)
    assert 0 < kept < len(LEAVES) * PER_TASK
    again = run(tmp_path, root, f"random:seed=3,resume={cut}", "again", nproc=nproc)
    same_run(out, again, LEAVES)
    assert journal_lines(cut) == len(LEAVES) * PER_TASK + nproc  # every answer once, one header per process


def test_a_journal_of_another_run_is_refused(whole: tuple[Path, Path], root: Path, tmp_path: Path) -> None:
    base, _ = whole
    journal = tmp_path / "journal"
    shutil.copytree(base / "journal", journal)
    proc = subprocess.run(
        _command(1, f"random:seed=4,resume={journal}", "humansense_ar", tmp_path / "out"),
        env=cli_env(tmp_path, root),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("HumanSense resume error: ") and "was written by another run" in last, last
    assert "args: journal {'seed': 3}, this run {'seed': 4}" in last and "give resume= a new folder" in last
    # Other data: the same journal over a root whose annotation file changed.
    other = tmp_path / "other_root"
    shutil.copytree(root, other)
    vqa = other / "HumanSense_VQA.json"
    vqa.write_text(json.dumps(json.loads(vqa.read_text())[:-1]), encoding="utf-8")
    proc = subprocess.run(
        _command(1, f"random:seed=3,resume={journal}", "humansense_ar", tmp_path / "out"),
        env=cli_env(tmp_path, other),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1 and "annotations: journal '" in proc.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2.5-Omni checkpoint, shared by the module's ``humansense_omni`` runs."""
    return build_tiny_omni(tmp_path_factory.mktemp("tiny_omni") / "tiny")


def kill_once_journaled(command: list[str], env: dict[str, str], cwd: Path, journal: Path, answers: int) -> int:
    """Start ``command``, SIGKILL it as soon as its ``resume=`` journal holds ``answers`` answers
    (or it ends), and return how many the journal holds then."""
    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        while journal_lines(journal) < 1 + answers and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    return journal_lines(journal) - 1


@pytest.fixture(scope="module")
def omni_runs(root: Path, tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four ``humansense_omni`` runs (tiny random-weight Qwen2.5-Omni) over TR, AR and PC, each with
    lmms-eval's ``--use_cache`` (run id fixed, a checkpoint after every response) and the package's
    ``resume=`` journal, shared by the kill and response-cache tests (each run costs a model load):

    * ``whole``: uninterrupted, into response cache A;
    * ``killed``: a real SIGKILL once 3 answers are journaled, response cache B;
    * ``again``: the killed run's command again (journal and cache B);
    * ``cached``: ``whole``'s command again, every answer from response cache A.
    """
    tmp = tmp_path_factory.mktemp("omni_runs")
    env = cli_env(tmp, root, LMMS_CACHE_RUN_ID="fixed", LMMS_CACHE_CHECKPOINT_INTERVAL="1")

    def command(journal: str, cache: str, out: str) -> list[str]:
        args = f"omni:pretrained={tiny},dtype=float32,resume={tmp / journal}"
        return _command(1, args, ",".join(OMNI_LEAVES), tmp / out) + ["--use_cache", str(tmp / cache)]

    return {
        "tmp": tmp,
        "whole": run_to_the_end(command("j_whole", "cache_a", "whole"), env, tmp, tmp / "whole"),
        "killed_answers": kill_once_journaled(command("j_killed", "cache_b", "killed"), env, tmp, tmp / "j_killed", 3),
        "again": run_to_the_end(command("j_killed", "cache_b", "again"), env, tmp, tmp / "again"),
        "cached": run_to_the_end(command("j_whole", "cache_a", "cached"), env, tmp, tmp / "cached"),
    }


def test_the_tiny_omni_killed_with_sigkill_resumes(omni_runs: dict[str, Any]) -> None:
    """A real SIGKILL of a real ``humansense_omni`` run once a few answers are journaled, then the
    same command: the answers of an uninterrupted run, each with its ``acc.fed``."""
    assert 3 <= omni_runs["killed_answers"] < len(OMNI_LEAVES) * PER_TASK, omni_runs["killed_answers"]
    same_run(omni_runs["whole"], omni_runs["again"], OMNI_LEAVES)
    rows = [r for leaf in OMNI_LEAVES for r in logged_samples(omni_runs["again"], leaf)]
    assert sum(r["acc"]["outcome"] == "media_error" for r in rows) == 2  # TR's and PC's bad clips
    assert all("fed" in r["acc"] for r in rows)


# --- point 3: what lmms-eval's --use_cache keeps ------------------------------------------------------------


def _report(tmp: Path, out: Path) -> str:
    """``lmms-humansense report`` of one run folder, as Markdown."""
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "report", str(out), "--out", str(tmp / f"report_{out.name}"), "--no-plots"],
        env=cli_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (tmp / f"report_{out.name}" / "report.md").read_text(encoding="utf-8")


def test_lmms_eval_response_cache_serves_text_only(omni_runs: dict[str, Any]) -> None:
    """Measured: lmms-eval 0.7.3's ``--use_cache`` stores ``json.dumps(answer)``, so a hit is the
    answer text without its ``acc.fed`` record (docs/long-runs.md says so and points to
    ``resume=``, which keeps it); a media error keeps its outcome through its marker text.  The
    report of the cached run says how many of its answers came so, in its run's warnings."""
    tmp, whole, cached = omni_runs["tmp"], omni_runs["whole"], omni_runs["cached"]
    assert "ResponseCache: all 9 requests served from cache" in (cached / "log.txt").read_text()
    for leaf in OMNI_LEAVES:
        assert all("fed" in r["acc"] for r in logged_samples(whole, leaf)), leaf
    second = [r for leaf in OMNI_LEAVES for r in logged_samples(cached, leaf)]
    hits = [r for r in second if r["acc"]["outcome"] == "answered"]
    assert len(hits) == 7 and all("fed" not in r["acc"] for r in hits)  # the text came back, its record did not
    bad = {r["acc"]["error"].split(":")[0]: r["acc"] for r in second if r["acc"]["outcome"] != "answered"}
    # The media errors still count as such (their text carries the package's marker), not as empty answers.
    assert len(bad) == 2 and all(b["outcome"] == "media_error" and "fed" not in b for b in bad.values()), bad
    assert any("decoding its sound track reaches only" in b["error"] for b in bad.values())
    said = "answers from lmms-eval's response cache, inputs not recorded"
    assert said not in _report(tmp, whole)
    warned = [line for line in _report(tmp, cached).splitlines() if said in line]
    assert len(warned) == 1 and warned[0].startswith("- **R1**: 9 of 9 answers from lmms-eval's response cache")
    assert "`resume=DIR`" in warned[0]


def test_lmms_eval_response_cache_keeps_nothing_of_a_killed_run(omni_runs: dict[str, Any]) -> None:
    """Measured: the killed run (run id fixed, a checkpoint after every response) had 3 or more
    answers journaled when it was killed, and its command started again met an empty response
    cache: lmms-eval 0.7.3 stores responses after ``generate_until`` returns for the whole request
    list; the package's journal served them (the resume test above)."""
    assert omni_runs["killed_answers"] >= 3
    log = (omni_runs["again"] / "log.txt").read_text()
    assert "ResponseCache stats: 0 hits, 9 misses" in log, [
        line for line in log.splitlines() if "ResponseCache" in line
    ]


#: The four damaged clips, by the leaf whose third question has it alone.
STOCK_BAD = {
    "humansense_tr": "tr_002.mp4: decoding its sound track reaches only 0.9 s of 2.0 s",
    "humansense_er": "er_002.mp4: its frames do not decode",
    "humansense_pc": "pc_002.wav: its sound holds NaN or infinite samples",
    "humansense_fr2": "fr2_002.wav: audio track holds no samples",
}


def stock_bad_clips_cost_only_their_questions(out: Path, bad: dict[str, str]) -> None:
    """A stock wrapper's run over damaged clips: results for every task, each damaged clip's question
    counted ``media_error`` with its doc and file named, every other answer kept, the end named."""
    results = run_results(out)["results"]
    log = (out / "log.txt").read_text()
    assert "Error during evaluation" not in log
    for leaf, said in bad.items():
        rows = logged_samples(out, leaf)
        assert len(rows) == PER_TASK and results[leaf]["not_answered,none"] == 1, leaf
        (row,) = [r for r in rows if r["acc"]["outcome"] == "media_error"]
        error = row["acc"]["error"]
        assert error.startswith(f"HumanSense doc {row['acc']['id']} ") and said in error, error
        assert ("Fix: replace it with a good copy" in error or "re-extract" in error) and "score" not in row["acc"]
        assert all(r["acc"]["outcome"] == "answered" for r in rows if r is not row), leaf
        code = leaf.removeprefix("humansense_").upper()
        assert f"HumanSense task {code}: 1 of 3 questions could not be asked" in log
        assert f"{error.rstrip('.')}. The question is left out (counted as media_error" in log  # said as it happens


def test_a_stock_wrapper_keeps_the_run_and_verify_names_every_bad_clip(root: Path, tmp_path: Path) -> None:
    """lmms-eval 0.7.3's ``dummy`` wrapper decoding frames with lmms-eval's own reader (before this
    package checked what it hands over, ER's corrupted clip made lmms-eval print "Error during
    evaluation", write no results and exit 0): the hooks hand it no media for the four damaged clips,
    and each costs only its question.  What a user runs first, ``lmms-humansense verify``, names
    each of the four."""
    out = run(tmp_path, root, "dummy:decode_num_frames=2", "out", tasks=",".join(STOCK_BAD))
    stock_bad_clips_cost_only_their_questions(out, STOCK_BAD)
    log = (out / "log.txt").read_text()
    assert log.count("the wrapper gets a 2 s blank placeholder video (its answer is not counted)") == 2  # TR, ER
    assert log.count("the wrapper gets 1 s of silence (its answer is not counted)") == 2  # PC, FR2
    decodes = list((tmp_path / "humansense_cache" / "media_decodes").iterdir())
    # One verdict per clip version, not per question: TR's and ER's clip 000 (two questions each) and ER's
    # damaged clip (TR's cut clip fails on its sound, checked first).
    assert sorted(bool(p.read_text()) for p in decodes) == [False, False, True]
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "verify", "--root", str(root), "--no-progress", "--workers", "1"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    for clip in ("tr_002.mp4", "er_002.mp4", "pc_002.wav", "fr2_002.wav"):
        assert f"{clip}: " in proc.stdout, clip
    (empty,) = [line for line in proc.stdout.splitlines() if "fr2_002.wav: " in line]
    assert "audio track holds no samples" in empty and "Fix: replace it with a good copy" in empty, empty
