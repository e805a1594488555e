"""Bad annotation data and loading, through the real entry points: each case ends in a named error
or a counted outcome, `verify` and the run agree on it, and a data error stops an lmms-eval run at
once with a non-zero status and the HumanSense message as the last thing printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import bin_path, cli_env, run_lmms_eval
from fixture_data import make_paper_root, task_type_of

from lmms_humansense.catalog import TASKS
from lmms_humansense.data.root import INCOMPLETE_MARKER, VQA_FILE
from lmms_humansense.data.schema import MediaMissingError, RecordError, load_task_docs
from lmms_humansense.data.taskmap import RESOLVED_FILE, ROOT_FILE, TaskMapError, load_task_map, resolved_cache_file
from lmms_humansense.hooks import DataLoadStop
from lmms_humansense.taskgen import tasks_dir

#: How the 7 strings no public source spells out might be written in the real files.
SPELLINGS = {
    "AR": "ActionRecognition",
    "ER": "Emotion Recognition",
    "GR": "gesture_recognition",
    "PA": "Appearance_Recognition",
    "CM": "ComplexMotion",
    "HC": "Human Counting",
    "LD": "Lie-Detection",
}


def _verify(tmp: Path, root: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp / "verify.json"
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "verify", "--root", str(root), "--json", str(out), "--no-progress"],
        env=cli_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, (json.loads(out.read_text()) if out.is_file() else {})


def _evaluate(root: Path, monkeypatch: pytest.MonkeyPatch, task: str = "humansense_ar") -> dict[str, Any]:
    """``simple_evaluate`` in this process, one question, lmms-eval's own dummy model."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    monkeypatch.setenv("HUMANSENSE_ROOT", str(root))
    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
    return simple_evaluate(
        model="dummy", model_args="response=A", tasks=[task], limit=1, task_manager=manager, log_samples=False
    )


def _load_error(root: Path, monkeypatch: pytest.MonkeyPatch, task: str = "humansense_ar") -> BaseException:
    with pytest.raises(DataLoadStop) as stop:
        _evaluate(root, monkeypatch, task)
    return stop.value.error


# -- 1. task_type strings resolved by themselves, only when certain -------------------------------


@pytest.fixture(scope="module")
def paper_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_paper_root(tmp_path_factory.mktemp("paper"))


def _paper_root(media: Path, target: Path, spellings: dict[str, str], counts: dict[str, int] | None = None) -> Path:
    shutil.copytree(media, target)
    return make_paper_root(target, spellings, counts)


def test_plausible_spellings_resolve_by_name_and_counts(
    paper_media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = _paper_root(paper_media, tmp_path / "root", SPELLINGS)
    with caplog.at_level("WARNING", logger="lmms_humansense"):
        results = _evaluate(root, monkeypatch, "humansense_pa")
    assert results["results"]["humansense_pa"]["acc,none"] >= 0
    lines = [r.getMessage() for r in caplog.records if "resolved by name" in r.getMessage()]
    cached = resolved_cache_file(root)
    assert len(lines) == 1 and '"Appearance_Recognition": "PA"' in lines[0] and str(cached) in lines[0]
    written = json.loads(cached.read_text())
    assert written == {name: code for code, name in SPELLINGS.items()}
    assert not (root / RESOLVED_FILE).exists()  # nothing is written into the data root
    proc, report = _verify(tmp_path, root)  # verify reads what the run wrote, and agrees
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert all(c["found"] == c["paper"] for c in report["counts"].values())


def test_an_explicit_mapping_wins_over_the_resolution(
    paper_media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _paper_root(paper_media, tmp_path / "root", SPELLINGS)
    (root / ROOT_FILE).write_text(json.dumps({"Lie-Detection": "LD", "Human Counting": "HC"}))
    _evaluate(root, monkeypatch, "humansense_ld")
    effective = load_task_map(root)  # the cache may hold an earlier resolution of the same files
    assert effective["Lie-Detection"] == "LD" and effective["ComplexMotion"] == "CM"
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", "ActionRecognition=GR,gesture_recognition=AR")  # wins, though wrong
    assert {d["task_type"] for d in load_task_docs(root, "AR")} == {"gesture_recognition"}


def test_a_changed_annotation_file_is_resolved_again(
    paper_media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolution is kept per annotation content: a copy of a resolved root with one record
    removed, and holding an old ``humansense_task_map.resolved.json`` as roots did before, stops
    as a fresh root does (the counts rule applies again)."""
    root = _paper_root(paper_media, tmp_path / "root", SPELLINGS)
    _evaluate(root, monkeypatch, "humansense_ld")
    resolution = resolved_cache_file(root).read_text()
    proc, _ = _verify(tmp_path, root, HUMANSENSE_CACHE=os.environ["HUMANSENSE_CACHE"])
    assert proc.returncode == 0, proc.stdout[-2000:]
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / RESOLVED_FILE).write_text(resolution)  # what an earlier version wrote into the root
    records = json.loads((copy / VQA_FILE).read_text())
    gone = next(i for i, r in enumerate(records) if r["questions"]["task_type"] == SPELLINGS["GR"])
    (copy / VQA_FILE).write_text(json.dumps(records[:gone] + records[gone + 1 :]))
    error = _load_error(copy, monkeypatch)
    assert isinstance(error, TaskMapError) and "GR 299 (paper 300)" in str(error)


def test_score_reads_the_resolution(paper_media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _paper_root(paper_media, tmp_path / "root", SPELLINGS)
    _evaluate(root, monkeypatch, "humansense_hc")
    records = json.loads((root / VQA_FILE).read_text())
    for rec in records:
        rec["questions"]["SomeModel"] = rec["questions"]["answer"]
    results = tmp_path / "answers" / VQA_FILE
    results.parent.mkdir()
    results.write_text(json.dumps(records))
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "score", "--results", str(results), "--model", "SomeModel", "--json"],
        env=cli_env(tmp_path, root, HUMANSENSE_CACHE=os.environ["HUMANSENSE_CACHE"]),  # where the run kept it
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"PA"' in proc.stdout and '"HC"' in proc.stdout


@pytest.mark.parametrize(
    ("spellings", "counts", "why"),
    [
        ({**SPELLINGS, "ER": "Emotion"}, None, "no single task's name clearly fits 'Emotion'"),  # ER or ES?
        ({**SPELLINGS, "PA": "Person"}, None, "clearly fits 'Person'"),  # Person Appearance or Talking-person?
        (SPELLINGS, {"GR": 299}, "counts would differ from the paper's: GR 299 (paper 300)"),  # off by one
        ({**SPELLINGS, "GR": "ActionRecognition"}, None, "AR 600 (paper 300), GR 0 (paper 300)"),  # 2 tasks 1 string
        (  # issue 23 class 1: the names fit crosswise, the counts (300 each) cannot tell, the patterns can
            {**SPELLINGS, "AR": "Body_Gesture", "GR": "Hand_Action_Recognition"},
            None,
            "'Body_Gesture' (multi questions) is GR's name, but GR asks single questions",
        ),
    ],
    ids=["ambiguous-emotion", "ambiguous-person", "count-off-by-one", "two-tasks-one-string", "crosswise-patterns"],
)
def test_anything_less_certain_keeps_the_error(
    paper_media: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spellings: dict[str, str],
    counts: dict[str, int] | None,
    why: str,
) -> None:
    root = _paper_root(paper_media, tmp_path / "root", spellings, counts)
    error = _load_error(root, monkeypatch)
    assert isinstance(error, TaskMapError) and why in str(error) and ROOT_FILE in str(error)
    assert not (root / RESOLVED_FILE).exists()
    proc, report = _verify(tmp_path, root)
    assert proc.returncode == 1 and report["problems_by_kind"]["task_type"] >= 1


# -- 2. a data error stops the run at once, clearly, with a non-zero status -----------------------


def _break_record(root: Path) -> str:
    records = json.loads((root / VQA_FILE).read_text())
    records[0]["questions"]["options"] = "A. happy"
    (root / VQA_FILE).write_text(json.dumps(records))
    return "field questions.options"


def _unknown_type(root: Path) -> str:
    (root / ROOT_FILE).unlink()
    return "task_type string(s) that no mapping covers"


def _incomplete(root: Path) -> str:
    (root / INCOMPLETE_MARKER).write_text("")
    return "did not finish"


@pytest.mark.parametrize(
    ("breaker", "tasks"),
    [
        (None, "humansense_ar"),
        (_unknown_type, "humansense_l4"),
        (_break_record, "humansense_ar"),
        (_incomplete, "humansense_pc"),
    ],
    ids=["no-root", "unknown-task-type", "bad-record", "incomplete-download"],
)
def test_lmms_eval_stops_at_once_with_the_message_last(
    root_copy: Path, tmp_path: Path, breaker: Callable[[Path], str] | None, tasks: str
) -> None:
    expected = breaker(root_copy) if breaker else "HUMANSENSE_ROOT is not set"
    env = cli_env(tmp_path, root_copy if breaker else None)
    proc = run_lmms_eval(["--model", "humansense_random", "--tasks", tasks], env, tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout and "RetryError" not in proc.stderr + proc.stdout
    tail = proc.stderr.rstrip().splitlines()
    message = "\n".join(tail[-12:])
    assert expected in message
    first = next(line for line in tail[-12:] if line.startswith("HumanSense"))
    assert (proc.stdout + proc.stderr).count(first) == 1  # printed once, not once per retry


def test_simple_evaluate_raises_the_named_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUMANSENSE_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(DataLoadStop) as stop:
        from lmms_eval.evaluator import simple_evaluate
        from lmms_eval.tasks import TaskManager

        manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
        simple_evaluate(model="dummy", model_args="response=A", tasks=["humansense_ar"], limit=1, task_manager=manager)
    assert isinstance(stop.value, SystemExit) and "is not a folder" in str(stop.value)


# -- 3/4. the red-team classes: verify and the run say the same, naming record and fix ----------


def _edit(root: Path, change: Callable[[list[Any]], None]) -> None:
    records = json.loads((root / VQA_FILE).read_text())
    change(records)
    (root / VQA_FILE).write_text(json.dumps(records))


def _first(records: list[Any], code: str) -> dict[str, Any]:
    task = next(t for t in TASKS if t.code == code)
    return next(r for r in records if r["questions"]["task_type"] == task_type_of(task))


def _set(code: str, **fields: Any) -> Callable[[list[Any]], None]:
    return lambda records: _first(records, code)["questions"].update(fields)


def _outside(root: Path, records: list[Any]) -> None:
    shutil.copy(root / "videos" / "ar_000.mp4", root.parent / "outside.mp4")
    _first(records, "AR")["video_path"] = str(root.parent / "outside.mp4")


# (class, how to break the root, the run's error type, fragment both verify and the run print)
RECORD_CASES = [
    ("1-gold-superscript", _set("HC", answer="²"), RecordError, "digits 0-9"),
    (
        "2-yes-no-pattern",
        _set("ER", question_pattern="Judgment question (Yes or No)", answer="Yes"),
        RecordError,
        "yesno",
    ),
    (
        "4-record-is-a-string",
        lambda r: r.insert(0, "oops"),
        RecordError,
        "record #0 (video_path='?'): a record must be a JSON object, found str",
    ),
    ("4-record-is-null", lambda r: r.insert(0, None), RecordError, "must be a JSON object, found NoneType"),
    (
        "5-repeated-option-letters",
        _set("ER", options=["A. happy", "A. angry", "C. calm", "D. sad"], answer="A"),
        RecordError,
        "option letter(s) A label more than one option",
    ),
    (
        "8-parent-path",
        lambda r: _first(r, "AR").update(video_path="../outside.mp4"),
        RecordError,
        "leaves the data root",
    ),
    (
        "8-etc-passwd",
        lambda r: _first(r, "AR").update(video_path="../../../../../../etc/passwd"),
        RecordError,
        "leaves the data root",
    ),
    ("8-absolute-path", lambda r: _first(r, "AR").update(video_path="/etc/passwd"), MediaMissingError, "/etc/passwd"),
]


@pytest.mark.parametrize(("case", "change", "kind", "fragment"), RECORD_CASES, ids=[c[0] for c in RECORD_CASES])
def test_verify_and_the_run_refuse_the_same_record(
    root_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    change: Callable[[list[Any]], None],
    kind: type[Exception],
    fragment: str,
) -> None:
    _edit(root_copy, change)
    proc, report = _verify(tmp_path, root_copy)
    assert proc.returncode == 1 and fragment in proc.stdout, proc.stdout[-3000:]
    assert not [line for line in proc.stdout.splitlines() if line.count(" record #") > 1]  # its where once
    error = _load_error(root_copy, monkeypatch, "humansense")
    assert isinstance(error, kind) and fragment in str(error) and VQA_FILE in str(error)


def test_a_task_type_that_is_a_list_beside_an_unknown_string_is_named(
    root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task_type resolution met the list and raised ``TypeError`` (unhashable), in verify and the run."""
    _edit(root_copy, lambda r: _first(r, "ER")["questions"].update(task_type="Unknown_Thing"))
    _edit(root_copy, lambda r: _first(r, "AR")["questions"].update(task_type=["x"]))
    proc, report = _verify(tmp_path, root_copy)
    assert proc.returncode == 1 and set(report["problems_by_kind"]) >= {"record", "task_type"}, proc.stdout[-3000:]
    assert (
        "(video_path='data/videos/ar_000.mp4'): field questions.task_type should be text, found ['x']. Fix the record."
        in proc.stdout
    )
    assert "task_type 'Unknown_Thing' (1 record(s)) is not mapped" in proc.stdout
    error = _load_error(root_copy, monkeypatch, "humansense")  # the first problem stops the run, named
    assert isinstance(error, TaskMapError) and "'Unknown_Thing': 1 record(s)" in str(error)


def test_an_absolute_path_to_a_real_file_outside_the_root_is_not_used(
    root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _edit(root_copy, lambda records: _outside(root_copy, records))
    proc, _ = _verify(tmp_path, root_copy)
    assert proc.returncode == 1 and "outside.mp4: no such file under" in proc.stdout
    error = _load_error(root_copy, monkeypatch)
    assert isinstance(error, MediaMissingError) and "outside.mp4" in str(error)


def test_3_non_utf8_json_names_the_file(root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = root_copy / VQA_FILE
    path.write_bytes(path.read_bytes().replace(b"happy", b"h\xe4ppy", 1))
    proc, _ = _verify(tmp_path, root_copy)
    assert proc.returncode == 1 and f"{path} is not UTF-8" in proc.stdout
    error = _load_error(root_copy, monkeypatch)
    assert isinstance(error, RecordError) and f"{path} is not UTF-8" in str(error)


@pytest.mark.parametrize("copies", [1, 10])
def test_6_repeated_records_are_counted_by_verify_and_the_run(
    root_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    copies: int,
) -> None:
    _edit(root_copy, lambda records: records.extend([records[0]] * copies))
    proc, report = _verify(tmp_path, root_copy)
    assert f"{copies} record(s) repeat an earlier one" in proc.stdout and len(report["duplicates"]) == copies
    assert "repeats HumanSense_VQA.json record #0" in report["duplicates"][0]
    with caplog.at_level("WARNING", logger="lmms_humansense"):
        _evaluate(root_copy, monkeypatch)
    assert any(f"{copies} record(s) repeat an earlier one" in r.getMessage() for r in caplog.records)


def test_10_a_long_inline_task_map_is_read_inline(
    root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root_copy / ROOT_FILE).unlink()
    spec = ",".join(f"{task_type_of(t)}={t.code}" for t in TASKS)
    assert len(spec) > 300
    proc, report = _verify(tmp_path, root_copy, HUMANSENSE_TASK_MAP=spec)
    assert "task_type" not in report["problems_by_kind"], proc.stdout[-2000:]
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", spec)
    assert _evaluate(root_copy, monkeypatch)["results"]["humansense_ar"]["acc,none"] >= 0


@pytest.mark.parametrize(
    ("content", "fragment"), [("{not json", "is not valid UTF-8 JSON"), ('{"X": "NOPE"}', "not a task code")]
)
def test_15_verify_prints_task_map_errors_without_traceback_exit_2(
    root_copy: Path, tmp_path: Path, content: str, fragment: str
) -> None:
    (root_copy / ROOT_FILE).write_text(content)
    proc, _ = _verify(tmp_path, root_copy)
    assert proc.returncode == 2 and fragment in proc.stderr and "lmms-humansense verify: error: task map" in proc.stderr


def test_16_an_offline_download_leaves_nothing_the_tasks_would_refuse(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "download", "--no-progress", "--no-space-check", "--root", str(root)],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "not in the Hugging Face cache" in proc.stderr
    assert not root.exists()
    default = tmp_path / "humansense_cache" / "HumanSense_Benchmark"  # the default root, same rule
    proc = subprocess.run(
        [bin_path("lmms-humansense"), "download", "--no-progress", "--no-space-check"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and not default.exists()


def test_lmms_evals_own_retry_lets_the_stop_through_at_once() -> None:
    """A guard on the assumption the stop rests on: the retry lmms-eval puts on ``Task.download``
    retries an ``Exception`` but not a ``SystemExit``.  If a later lmms-eval changes that, this fails
    before users see retries again."""
    import tenacity
    from lmms_eval.api.task import ConfigurableTask

    retrying = ConfigurableTask.download.retry.copy(wait=tenacity.wait_none())
    calls: list[str] = []

    def load(error: BaseException) -> None:
        calls.append(type(error).__name__)
        raise error

    with pytest.raises(DataLoadStop):
        retrying(load, DataLoadStop(ValueError("bad record")))
    assert calls == ["DataLoadStop"]
    with pytest.raises(tenacity.RetryError):
        retrying(load, ValueError("bad record"))
    assert calls.count("ValueError") == 5


# -- issue 23, class 3: a SAMPLE.md switches the count checks off only in the bundled sample ------


def test_a_sample_marker_in_another_root_keeps_the_count_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lmms_humansense import sample_root

    root = tmp_path / "root"
    shutil.copytree(sample_root(), root)  # what a user starting from the sample has
    assert (root / "SAMPLE.md").is_file()
    proc, report = _verify(tmp_path, root)
    assert proc.returncode == 1 and report["sample"] is False and report["problems_by_kind"]["count"] == 15
    with caplog.at_level("WARNING", logger="lmms_humansense"):
        _evaluate(root, monkeypatch)
    said = [r.getMessage() for r in caplog.records]
    assert any("per-task question counts differ from the paper's" in m for m in said), said
    assert not any("bundled SAMPLE" in m for m in said)  # the bundled root itself: tests/test_verify.py


# -- issue 23, class 5: two media paths, one file of a flattened root ---------------------------------


def _two_sets(records: list[Any]) -> None:
    task = next(t for t in TASKS if t.code == "AR")
    ar = [r for r in records if r["questions"]["task_type"] == task_type_of(task)]
    ar[0]["video_path"], ar[1]["video_path"] = "data/videos/setA/ar_000.mp4", "data/videos/setB/ar_000.mp4"


def test_two_paths_that_find_one_file_are_refused_by_both(
    root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmms_humansense.data.schema import MediaAmbiguousError

    _edit(root_copy, _two_sets)  # the root holds only videos/ar_000.mp4
    said = f"{root_copy / 'videos' / 'ar_000.mp4'} is the only match for 2 records naming different files"
    proc, report = _verify(tmp_path, root_copy)
    assert proc.returncode == 1 and report["problems_by_kind"]["ambiguous"] == 2 and said in proc.stdout
    error = _load_error(root_copy, monkeypatch)
    assert isinstance(error, MediaAmbiguousError) and said in str(error) and "setA/ar_000.mp4" in str(error)
    for sub in ("setA", "setB"):  # the layout the paths name: two files, no problem
        (root_copy / "videos" / sub).mkdir()
        shutil.copy(root_copy / "videos" / "ar_000.mp4", root_copy / "videos" / sub / "ar_000.mp4")
    assert {d["clip"] for d in load_task_docs(root_copy, "AR")} == {"videos/setA/ar_000.mp4", "videos/setB/ar_000.mp4"}


# -- issue 23, class 6: record fields the run trusts, checked once for verify and the run ---------

#: (case, how to break the root, the leaf whose run meets it, what verify and the run both say)
FIELD_CASES = [
    ("fps-inf", _set("AR", fps="inf"), "humansense_ar", "field questions.fps 'inf' must be a finite number >= 0"),
    ("fps-nan", _set("ER", fps=float("nan")), "humansense_er", "field questions.fps nan must be a finite number"),
    ("count-gold-11", _set("HC", answer="11"), "humansense_hc", "'11' is above 10, but the official prompt asks"),
    (
        "asr-missing",
        lambda r: _first(r, "TR")["questions"].pop("asr_en"),
        "humansense_asr_tr",
        "field questions.asr_en (the transcript the asr variant prepends) is missing",
    ),
    (
        "asr-empty",
        _set("RR1", asr_en=""),
        "humansense_asr_rr1",
        "asr_en (the transcript the asr variant prepends) is ''",
    ),
    ("asr-not-text", _set("ES", asr_en=["hi"]), "humansense_asr_es", "the asr variant prepends) is ['hi']"),
]


def test_verify_lists_every_field_the_run_refuses(root_copy: Path, tmp_path: Path) -> None:
    for _, change, _, _ in FIELD_CASES:
        _edit(root_copy, change)
    proc, report = _verify(tmp_path, root_copy)
    asr = [c for c in FIELD_CASES if c[2].startswith("humansense_asr_")]
    # fields every task reads are problems; a transcript only the asr variant reads is listed, not failed
    assert proc.returncode == 1 and report["problems_by_kind"]["record"] == len(FIELD_CASES) - len(asr)
    assert len(report["no_transcript"]) == len(asr)
    for case, _, _, said in FIELD_CASES:
        assert said in proc.stdout, (case, proc.stdout[-3000:])


def test_a_speech_record_without_a_transcript_stops_only_the_asr_variant(
    root_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _edit(root_copy, lambda r: _first(r, "TR")["questions"].pop("asr_en"))
    proc, report = _verify(tmp_path, root_copy)
    assert set(report["problems_by_kind"]) == {"count"} and len(report["no_transcript"]) == 1, proc.stdout[-2000:]
    assert "the humansense_asr tasks refuse these records" in proc.stdout
    _evaluate(root_copy, monkeypatch, "humansense_tr")  # the default task never reads asr_en
    error = _load_error(root_copy, monkeypatch, "humansense_asr_tr")
    assert isinstance(error, RecordError) and "run the tasks without _asr_" in str(error)


@pytest.mark.parametrize(("case", "change", "leaf", "said"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_the_run_refuses_the_field_by_name(
    root_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    change: Callable[[list[Any]], None],
    leaf: str,
    said: str,
) -> None:
    _edit(root_copy, change)
    error = _load_error(root_copy, monkeypatch, leaf)
    assert isinstance(error, RecordError) and said in str(error) and VQA_FILE in str(error)


def test_a_leaf_yaml_without_its_dataset_name_stops_naming_the_key(
    tmp_path: Path, generated_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every leaf loads the one stub; its ``dataset_name`` says which questions. A hand-made leaf that
    leaves it out stops the run with the key named, not with another task's questions."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    folder = tmp_path / "tasks"
    shutil.copytree(tasks_dir(), folder)
    leaf = folder / "humansense_ar.yaml"
    leaf.write_text(leaf.read_text().replace("dataset_name: humansense_ar\n", ""), encoding="utf-8")
    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    manager = TaskManager(include_path=str(folder), include_defaults=False)
    with pytest.raises(DataLoadStop, match="dataset_name") as stop:
        simple_evaluate(model="dummy", model_args="response=A", tasks=["humansense_ar"], limit=1, task_manager=manager)
    assert isinstance(stop.value.error, ValueError)
