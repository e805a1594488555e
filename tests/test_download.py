"""`lmms-humansense download`: the real huggingface_hub code against a pre-populated offline cache,
and the extraction's safety, locking and resumption on generated archives."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import bin_path, cli_env, run_lmms_eval, run_results
from fixture_data import FAKE_COMMIT, make_hub_cache

from lmms_humansense.data.download import (
    DownloadError,
    UnsafeArchiveError,
    check_space,
    download,
    extract_archive,
)
from lmms_humansense.data.root import COMPLETE_MARKER, INCOMPLETE_MARKER, DataRootError, resolve_root


def _media(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.glob("*/*")) if p.suffix != ".json"}


def _no_leftovers(root: Path) -> None:
    assert not [p for p in root.rglob("*") if p.name.endswith((".part", ".tmp"))]


def _download_cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_path("lmms-humansense"), "download", "--no-progress", *args],
        env=cli_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_download_from_the_offline_hub_cache_then_the_tasks_find_the_root(generated_root: Path, tmp_path: Path) -> None:
    make_hub_cache(tmp_path / "hf_home", generated_root)
    task_map = str(generated_root / "humansense_task_map.json")
    proc = _download_cli(tmp_path, HUMANSENSE_TASK_MAP=task_map)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "humansense_cache" / "HumanSense_Benchmark"  # the documented default root
    assert proc.stdout.strip() == str(root)
    assert "find this root by themselves" in proc.stderr
    marker = json.loads((root / COMPLETE_MARKER).read_text())
    assert marker == {"commit": FAKE_COMMIT, "folder": "bench_data", "repo": marker["repo"], "revision": "main"}
    assert not (root / INCOMPLETE_MARKER).exists()
    assert _media(root) == _media(generated_root)  # videos.zip has a top folder, audios.zip is flat: same layout
    mode = stat.S_IMODE((root / "videos" / "tr_000.mp4").stat().st_mode)
    assert mode & 0o044, "extracted files must be readable by the group/others the umask allows"
    _no_leftovers(root)

    again = _download_cli(tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stderr

    # No HUMANSENSE_ROOT: lmms-eval's tasks load the downloaded root by themselves, still offline.
    out = tmp_path / "out"
    run = run_lmms_eval(
        ["--tasks", "humansense_l4", "--model", "dummy", "--output_path", str(out)],
        cli_env(tmp_path, HUMANSENSE_TASK_MAP=task_map),
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run_results(out)["n-samples"]["humansense_es"]["effective"] == 2


def test_only_bench_data_is_requested(generated_root: Path, tmp_path: Path) -> None:
    """The generated cache lists train_data/ files it does not hold; asking for them fails offline."""
    make_hub_cache(tmp_path / "hf_home", generated_root)
    code = (
        "from huggingface_hub import snapshot_download\n"
        "from lmms_humansense.data.root import HUB_REPO\n"
        "snapshot_download(HUB_REPO, repo_type='dataset')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode != 0 and "IncompleteSnapshotError" in proc.stderr and "train_data" in proc.stderr


def test_offline_without_a_cache_says_what_to_do(tmp_path: Path) -> None:
    proc = _download_cli(tmp_path, "--root", str(tmp_path / "root"), "--no-space-check")
    assert proc.returncode == 2
    assert "not in the Hugging Face cache" in proc.stderr and "HF_HUB_OFFLINE" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "root").exists()  # nothing fetched: no folder, marker or lock left behind


def test_a_failed_download_into_an_existing_folder_leaves_it_as_it_was(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    proc = _download_cli(tmp_path, "--root", str(root), "--no-space-check")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]  # no .humansense.lock, no marker


# -- archives ------------------------------------------------------------------------------------


def _zip(path: Path, entries: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("entries", "links", "says"),
    [
        ({"videos/ok.mp4": b"x", "/etc/evil.mp4": b"x"}, (), "absolute path"),
        ({"videos/ok.mp4": b"x", "videos/../../evil.mp4": b"x"}, (), "'..'"),
        ({"videos\\..\\..\\evil.mp4": b"x"}, (), "'..'"),
        ({"C:/evil.mp4": b"x"}, (), "absolute path"),
        ({"videos/ok.mp4": b"x"}, ("videos/link.mp4",), "symbolic link"),
        ({"videos/x.mp4": b"x", "x.mp4": b"y"}, (), None),  # two entries, one target
    ],
)
def test_unsafe_archives_are_refused_before_anything_is_written(
    tmp_path: Path, entries: dict[str, bytes], links: tuple[str, ...], says: str | None
) -> None:
    archive = _zip(tmp_path / "videos.zip", entries, links)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(UnsafeArchiveError) as err:
        extract_archive(archive, root, progress=False)
    message = str(err.value)
    assert str(archive) in message and "re-download" in message
    assert (says or "both extract to") in message
    assert not list(root.rglob("*")), "nothing may be written from an unsafe archive"


def test_archive_layouts_and_junk(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    nested = _zip(tmp_path / "videos.zip", {"data/videos/a.mp4": b"a", "__MACOSX/data/videos/._a.mp4": b"j"})
    flat = _zip(tmp_path / "audios.zip", {"b.wav": b"b"})
    stats = extract_archive(nested, root, progress=False)
    assert (stats.written, stats.skipped_junk) == (1, 1)
    extract_archive(flat, root, progress=False)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "." != p.name[0]) == [
        "audios/b.wav",
        "videos/a.mp4",
    ]
    assert extract_archive(nested, root, progress=False).already_done


def test_damaged_archives_are_named(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    not_zip = tmp_path / "videos.zip"
    not_zip.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(DownloadError, match=r"videos\.zip is not a readable zip archive.*fetch it again"):
        extract_archive(not_zip, root, progress=False)
    archive = _zip(tmp_path / "audios.zip", {"a.wav": b"A" * 5000})
    data = bytearray(archive.read_bytes())
    data[data.index(b"A" * 100) + 50] = ord("B")  # one flipped byte: the CRC check must catch it
    archive.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match=r"entry 'a\.wav' is damaged"):
        extract_archive(archive, root, progress=False)
    _no_leftovers(root)
    assert not (root / "audios" / "a.wav").exists()


def test_disk_space_is_checked_and_the_need_is_said(tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as err:
        check_space({tmp_path / "not" / "yet": 10**18, tmp_path: 10**17}, what="the test")
    message = str(err.value)
    assert "1100000000.0 GB needed" in message and "GB free" in message and "--root" in message
    check_space({tmp_path: 1}, what="the test")  # enough: no error


def test_a_complete_root_at_another_revision_is_not_mixed(generated_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / COMPLETE_MARKER).write_text(json.dumps({"revision": "main", "commit": FAKE_COMMIT}))
    with pytest.raises(DownloadError, match="already holds revision main.*--force"):
        download(root, "v2", progress=False, log=lambda _: None)
    assert download(root, FAKE_COMMIT, progress=False, log=lambda _: None) == root.absolute()


# -- interruption and concurrency ----------------------------------------------------------------

_KILL_AFTER_3 = """
import os, signal, sys
from pathlib import Path
from lmms_humansense.data.download import download
done = []
def after(path):
    done.append(path)
    if len(done) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
download(Path(sys.argv[1]), progress=False, after_file=after)
"""

_RACE = """
import sys, time
from pathlib import Path
from lmms_humansense.data.download import download
Path(sys.argv[3]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.005)
download(Path(sys.argv[1]), progress=False, after_file=lambda p: time.sleep(0.02))
"""


def test_an_extraction_killed_midway_is_never_complete_and_a_rerun_resumes(
    generated_root: Path, tmp_path: Path
) -> None:
    make_hub_cache(tmp_path / "hf_home", generated_root)
    root = tmp_path / "root"
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER_3, str(root)], env=cli_env(tmp_path), capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    assert (root / INCOMPLETE_MARKER).exists() and not (root / COMPLETE_MARKER).exists()
    assert len(list((root / "videos").glob("*.mp4"))) == 3
    with pytest.raises(DataRootError, match="did not finish"):
        resolve_root(root)

    proc = _download_cli(tmp_path, "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "10 files written, 3 kept from an earlier run" in proc.stderr
    assert _media(root) == _media(generated_root)
    assert (root / COMPLETE_MARKER).exists() and not (root / INCOMPLETE_MARKER).exists()
    _no_leftovers(root)
    assert resolve_root(root) == root


def test_two_processes_at_once_extract_once(generated_root: Path, tmp_path: Path) -> None:
    make_hub_cache(tmp_path / "hf_home", generated_root)
    root, go = tmp_path / "root", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(root), str(go), str(tmp_path / f"ready{i}")],
            env=cli_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.01)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    logs = [out for out, _ in outs]
    assert sum("files written" in log for log in logs) == 1, logs
    assert sum("waiting for it to finish" in log and "nothing to do" in log for log in logs) == 1, logs
    assert _media(root) == _media(generated_root)
    _no_leftovers(root)
