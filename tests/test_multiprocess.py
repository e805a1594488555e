"""Data-parallel runs: a real ``torchrun --nproc_per_node 2 -m lmms_eval`` launch (CPU, gloo) of
every model this package registers gives what one process gives, task by task and question by
question, and leaves the same cache behind.  Also: a ``device=`` naming one device for every
process is refused, and ``python -m lmms_eval`` from the checkout's root finds the tasks when the
source tree shadows the installed package."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, bin_path, cli_env, logged_samples, run_results
from fixture_data import make_root
from tiny_models import build_tiny_omni

from lmms_humansense.catalog import TASKS, VARIANTS
from lmms_humansense.models.random_baseline import RandomBaseline

PER_TASK = 2
NOAUDIO_LEAVES = [VARIANTS["noaudio"].leaf(t.code) for t in VARIANTS["noaudio"].tasks()]
DEFAULT_LEAVES = [t.leaf for t in TASKS]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two questions per task (the first two share a clip): each of 2 processes gets one."""
    return make_root(tmp_path_factory.mktemp("mp_root"), per_task=PER_TASK)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_omni(tmp_path_factory.mktemp("mp_tiny_omni"))


def launch(nproc: int, model_args: list[str], tasks: str, tmp: Path, root: Path) -> Path:
    """One lmms-eval run as a user starts it: ``python -m lmms_eval`` or ``torchrun -m lmms_eval``.

    Each run has its own cold ``HUMANSENSE_CACHE`` (``tmp/humansense_cache``)."""
    out = tmp / "out"
    head = [sys.executable, "-m", "lmms_eval"]
    if nproc > 1:  # --standalone: a free rendezvous port, so parallel test workers do not collide
        head = [bin_path("torchrun"), "--standalone", "--nproc_per_node", str(nproc), "-m", "lmms_eval"]
    args = [*model_args, "--tasks", tasks, "--output_path", str(out), "--log_samples"]
    proc = subprocess.run(
        head + args, env=cli_env(tmp, root), cwd=tmp, capture_output=True, text=True, timeout=900, check=False
    )
    log = proc.stdout + proc.stderr
    # lmms-eval's CLI logs an evaluation error and still exits 0: a results file is the proof.
    assert proc.returncode == 0 and list(out.rglob("*_results.json")), log[-4000:]
    return out


def samples(out: Path, leaf: str) -> dict[str, dict[str, Any]]:
    """The logged samples of one task by question id; every question exactly once."""
    rows = logged_samples(out, leaf)
    by_id = {row["acc"]["id"]: row for row in rows}
    assert len(by_id) == len(rows) == PER_TASK, f"{leaf}: {[r['acc']['id'] for r in rows]}"
    return by_id


def results(out: Path) -> dict[str, Any]:
    return run_results(out)["results"]


def assert_same_results(one: dict[str, Any], two: dict[str, Any]) -> None:
    assert one.keys() == two.keys()
    for task in one:
        assert one[task].keys() == two[task].keys(), task
        for key, a in one[task].items():
            b = two[task][key]
            if isinstance(a, float) and isinstance(b, float):  # the gather may add in another order
                assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), (
                    task,
                    key,
                )
            else:
                assert a == b, (task, key)


def answer(row: dict[str, Any]) -> str:
    resp = row["filtered_resps"]
    return resp[0] if isinstance(resp, list) else resp


def cache_files(cache: Path) -> dict[str, bytes]:
    return {p.relative_to(cache).as_posix(): p.read_bytes() for p in sorted(cache.rglob("*")) if p.is_file()}


# --- the chance baseline: audio cache and silent copies written by two processes at once --------------
@pytest.fixture(scope="module")
def random_runs(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    runs = {}
    for nproc in (1, 2):
        tmp = tmp_path_factory.mktemp(f"random_{nproc}")
        launch(nproc, ["--model", "humansense_random"], "humansense,humansense_noaudio", tmp, root)
        runs[nproc] = tmp
    return runs


def test_random_baseline_two_processes_answer_as_one(random_runs: dict[int, Path]) -> None:
    one, two = random_runs[1] / "out", random_runs[2] / "out"
    for leaf in DEFAULT_LEAVES + NOAUDIO_LEAVES:
        a, b = samples(one, leaf), samples(two, leaf)
        assert a.keys() == b.keys(), leaf
        for qid in a:
            assert answer(a[qid]) == answer(b[qid]) and a[qid]["acc"] == b[qid]["acc"], (leaf, qid)
    assert_same_results(results(one), results(two))


def test_two_processes_sharing_a_cold_cache_leave_what_one_process_leaves(random_runs: dict[int, Path]) -> None:
    one, two = (cache_files(random_runs[n] / "humansense_cache") for n in (1, 2))
    assert any(name.startswith("audio16k/") for name in one) and any(name.startswith("silent/") for name in one)
    assert not [name for name in two if ".tmp" in name]  # no half-written file left behind
    assert one.keys() == two.keys()
    for name in one:
        assert one[name] == two[name], name


# --- the tiny real Qwen2.5-Omni, greedy ---------------------------------------------------------------
@pytest.fixture(scope="module")
def omni_runs(root: Path, tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    args = ["--model", "humansense_omni", "--model_args", f"pretrained={tiny},dtype=float32"]
    args += ["--gen_kwargs", "max_new_tokens=6"]
    runs = {}
    for nproc in (1, 2):
        tmp = tmp_path_factory.mktemp(f"omni_{nproc}")
        launch(nproc, args, "humansense", tmp, root)
        runs[nproc] = tmp / "out"
    return runs


def test_omni_two_processes_answer_as_one_with_each_question_its_own_record(omni_runs: dict[int, Path]) -> None:
    for t in TASKS:
        a, b = samples(omni_runs[1], t.leaf), samples(omni_runs[2], t.leaf)
        assert a.keys() == b.keys(), t.code
        for qid in a:
            assert answer(a[qid]) == answer(b[qid]), (t.code, qid)
            fed_a, fed_b = dict(a[qid]["acc"].pop("fed")), dict(b[qid]["acc"].pop("fed"))
            assert a[qid]["acc"] == b[qid]["acc"], (t.code, qid)
            fed_a.pop("seconds"), fed_b.pop("seconds")  # wall time, the only field allowed to differ
            assert fed_a == fed_b, (t.code, qid)
            assert fed_a["audio_source"] == (
                "video track" if t.has_video and t.uses_audio else "audio file" if t.uses_audio else "none"
            )
    assert_same_results(results(omni_runs[1]), results(omni_runs[2]))


# --- device= and the environment ------------------------------------------------------------------------
def _as_rank(monkeypatch: pytest.MonkeyPatch, rank: int, world_size: int) -> None:
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world_size))


def test_models_read_their_place_from_the_launch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _as_rank(monkeypatch, 1, 2)
    model = RandomBaseline()
    assert (model.rank, model.world_size, str(model.device)) == (1, 2, "cpu")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(SystemExit, match="WORLD_SIZE='two'"):
        RandomBaseline()


@pytest.mark.parametrize(
    ("model", "model_args"),
    [("humansense_random", "device=cuda:0"), ("humansense_omni", "pretrained=/nowhere,device=cuda:1")],
)
def test_one_device_for_every_process_is_refused(
    model: str, model_args: str, monkeypatch: pytest.MonkeyPatch, generated_root: Path
) -> None:
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from lmms_humansense.taskgen import tasks_dir

    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    _as_rank(monkeypatch, 0, 2)
    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
    with pytest.raises(SystemExit, match=r"would put all 2 processes of this launch on one device.*LOCAL_RANK"):
        simple_evaluate(model=model, model_args=model_args, tasks=["humansense_ar"], task_manager=manager)


@pytest.mark.parametrize(
    ("world_size", "model_args", "message"),
    [
        (2, "device_map=auto", r"device_map=auto spreads one copy .* this launch runs 2 processes.*plain `lmms-eval`"),
        (1, "device=cpu,device_map=auto", r"device=cpu puts the model on one device.*drop device= to spread it"),
        (1, "device=cpu,device_map=cuda:0", r"device=cpu and device_map=cuda:0 name different devices"),
    ],
)
def test_device_maps_that_cannot_work_are_refused_with_the_fix(
    world_size: int, model_args: str, message: str, monkeypatch: pytest.MonkeyPatch, generated_root: Path
) -> None:
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from lmms_humansense.taskgen import tasks_dir

    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    _as_rank(monkeypatch, 0, world_size)
    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
    with pytest.raises(SystemExit, match=message):
        simple_evaluate(
            model="humansense_omni",
            model_args=f"pretrained=/nowhere,{model_args}",
            tasks=["humansense_ar"],
            task_manager=manager,
        )


# --- python -m lmms_eval from the checkout's root --------------------------------------------------------
def test_python_m_lmms_eval_from_the_checkout_finds_the_tasks_when_the_source_tree_shadows_the_install(
    tmp_path: Path, generated_root: Path
) -> None:
    """``-S`` leaves out site's ``.pth`` files, so the editable install's import hook is gone: the
    checkout's ``lmms_humansense`` (first on ``sys.path`` under ``-m``) has no ``task_yamls``
    sub-package, exactly as after ``pip install .`` of a wheel."""
    import lmms_eval

    site_packages = str(Path(lmms_eval.__file__).resolve().parent.parent)
    env = cli_env(tmp_path, generated_root, PYTHONPATH=site_packages)
    out = tmp_path / "out"
    args = ["-S", "-m", "lmms_eval", "--model", "humansense_random", "--tasks", "humansense_ar"]
    proc = subprocess.run(
        [sys.executable, *args, "--output_path", str(out)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0 and "Tasks not found" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert results(out)["humansense_ar"]["acc,none"] >= 0
    assert os.path.isdir(REPO / "task_yamls")
