"""`lmms-humansense verify` as a user runs it, on generated roots with planted defects."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import humansense_cli
from fixture_data import write_video

from lmms_humansense import sample_root


def _plant_defects(root: Path) -> dict[str, str]:
    """One defect of each kind; returns file -> the words its problem must carry."""
    videos, audios = root / "videos", root / "audios"
    (videos / "ac_000.mp4").unlink()
    (videos / "gr_000.mp4").write_bytes(b"")
    hc = (videos / "hc_000.mp4").read_bytes()
    (videos / "hc_000.mp4").write_bytes(hc[: len(hc) // 2])  # index at the end: does not open
    cm = write_video(videos / "cm_000.mp4", seconds=6, faststart=True, audio=False).read_bytes()
    (videos / "cm_000.mp4").write_bytes(cm[: len(cm) * 8 // 10])  # index in front: opens, the end is gone
    fr1 = write_video(videos / "fr1_000.mp4", seconds=6, faststart=True).read_bytes()
    (videos / "fr1_000.mp4").write_bytes(fr1[: len(fr1) * 9 // 10])  # frames whole, the sound's end is gone
    write_video(videos / "es_000.mp4", audio=False)
    (audios / "pc_000.wav").write_text("this is not a wav file\n")
    records = json.loads((root / "HumanSense_VQA.json").read_text())
    records[0]["questions"]["task_type"] = "Mystery_Task"
    records[2]["questions"].pop("options")
    (root / "HumanSense_VQA.json").write_text(json.dumps(records))
    return {
        "videos/ac_000.mp4": "no such file",
        "videos/gr_000.mp4": "0 bytes",
        "videos/hc_000.mp4": "cannot be opened",
        "videos/cm_000.mp4": "cut short",
        "videos/fr1_000.mp4": "sound track",
        "videos/es_000.mp4": "has no audio track",
        "audios/pc_000.wav": "cannot be opened",
    }


def test_verify_passes_the_sample_set(tmp_path: Path) -> None:
    proc = humansense_cli(tmp_path, "verify", "--root", str(sample_root()), "--json", str(tmp_path / "v.json"))
    assert proc.returncode == 0, proc.stdout
    assert "OK: every record can be evaluated" in proc.stdout and "SAMPLE" in proc.stdout
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["ok"] and report["records"] == 45 and report["media_checked"] == 30


def test_verify_finds_and_names_every_planted_defect(root_copy: Path, tmp_path: Path) -> None:
    expected = _plant_defects(root_copy)
    out = tmp_path / "verify.json"
    proc = humansense_cli(tmp_path, "verify", "--json", str(out), HUMANSENSE_ROOT=str(root_copy))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert not report["ok"]
    problems = report["problems"]
    for rel, words in expected.items():
        hits = [p for p in problems if p["path"].endswith(rel)]
        assert hits, f"{rel} not reported: {proc.stdout}"
        for p in hits:
            assert words in p["message"], p
            assert "record #" in p["record"] and " id " in p["record"]
            assert p["record"] in proc.stdout and words in proc.stdout
    kinds = report["problems_by_kind"]
    assert kinds["missing"] == 2 and kinds["no_audio"] == 2 and kinds["media"] == 10  # 2 records per clip
    assert report["unknown_task_types"] == {"Mystery_Task": {"count": 1, "suggested": None}}
    assert any(p["kind"] == "record" and "questions.options" in p["message"] for p in problems)
    assert "HumanSense_VQA.json record #2" in proc.stdout
    assert report["counts"]["AR"] == {"found": 1, "paper": 300}  # the unmapped and the broken record are not counted
    assert "FAILED" in proc.stdout


def test_verify_names_counts_that_differ_from_the_paper(root_copy: Path, tmp_path: Path) -> None:
    proc = humansense_cli(tmp_path, "verify", "--root", str(root_copy), "--workers", "1")
    assert proc.returncode == 1
    assert "task HC (Human Counting): 2 question(s), the paper has 360" in proc.stdout
