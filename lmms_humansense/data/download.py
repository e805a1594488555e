"""``lmms-humansense download``: the benchmark's files, and nothing else, extracted once and safely.

The hub repository holds 26 GB of benchmark media next to 19 GB of training data, so the fetch is
restricted to ``bench_data/`` (``huggingface_hub`` does the transfer: resumable, progress bars,
``HF_HOME``/``HF_TOKEN``/``HF_ENDPOINT``/``HF_HUB_OFFLINE`` honoured, the archives kept in its cache).
The archives are then extracted into the official layout under the root:

- under a file lock, so the ranks of one ``accelerate launch`` that all call it extract once;
- with a marker present during the work (:data:`~lmms_humansense.data.root.INCOMPLETE_MARKER`) and
  the completion marker written last, atomically, so an interrupted run is never taken as complete;
- resumably: every file is written to a temporary name and renamed, so a file under its final name
  is whole, and a rerun skips it (zip CRCs are checked on every byte read);
- refusing, before anything is written, archives with absolute paths, ``..`` components or links.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import stat
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lmms_humansense.data.root import (
    ANNOTATION_FILES,
    COMPLETE_MARKER,
    ENV_VAR,
    HUB_REPO,
    INCOMPLETE_MARKER,
    default_root,
)
from lmms_humansense.files import atomic_target, write_text_atomically

#: The hub folder the benchmark lives in; ``train_data/`` next to it is never fetched.
HUB_FOLDER = "bench_data"
ALLOW_PATTERNS = [f"{HUB_FOLDER}/*"]
#: The revision fetched when ``--revision`` is not given.  No commit hash of the dataset could be
#: looked up while this was written (the hub was not reachable), so the default is the branch;
#: the commit it resolves to is recorded in the completion marker and printed, and a later
#: download into the same root at another commit says so instead of mixing files.  Replace this
#: with that commit hash once it is known, to make every new download identical.
DEFAULT_REVISION = "main"
#: Archive -> documented size in bytes (the hub's listing), used for the disk check when the
#: hub cannot be asked.  Media compress little, so extraction needs about as much again.
ARCHIVES: dict[str, int] = {"videos.zip": 24_400_000_000, "audios.zip": 1_700_000_000}
ANNOTATION_SIZES: dict[str, int] = {"HumanSense_VQA.json": 3_800_000, "HumanSense_AQA.json": 2_400_000}
LOCK_FILE = ".humansense.lock"
#: Folders some zip tools add that hold no benchmark file (resource forks of macOS); skipped, counted.
JUNK_PREFIXES = ("__MACOSX/",)
GB = 1e9


class DownloadError(RuntimeError):
    """The download or extraction cannot go on; the message names the file and the fix."""


class UnsafeArchiveError(DownloadError):
    """An archive entry would be written outside its folder or as a link."""


@dataclass
class ExtractStats:
    archive: str
    written: int = 0
    resumed: int = 0  # already whole under their final name from an earlier, interrupted run
    skipped_junk: int = 0
    bytes_written: int = 0
    already_done: bool = False


# -- safe extraction ---------------------------------------------------------------------------


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _member_target(archive: Path, info: zipfile.ZipInfo, folder: str) -> PurePosixPath | None:
    """The path under the root an entry goes to, or ``None`` for junk; raises for unsafe entries.

    The archives' inner layout is not documented, so both an archive with a top folder
    (``videos/x.mp4``, or deeper such as ``data/videos/x.mp4``) and a flat one (``x.mp4``) land in
    ``<root>/videos/x.mp4``.
    """
    name = info.filename
    where = f"{archive}: entry {name!r}"
    if _is_link(info):
        raise UnsafeArchiveError(
            f"{where} is a symbolic link; benchmark archives hold only files. Refusing to extract {archive}: "
            "re-download it from the hub (it may be damaged or not the official file)."
        )
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise UnsafeArchiveError(
            f"{where} has an absolute path. Refusing to extract {archive}: re-download it from the hub."
        )
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(
            f"{where} contains '..' and would be written outside the data root. Refusing to extract {archive}: "
            "re-download it from the hub."
        )
    if posix.startswith(JUNK_PREFIXES) or info.is_dir() or not parts:
        return None
    if folder in parts[:-1]:
        parts = parts[parts.index(folder) + 1 :]
    return PurePosixPath(folder, *parts)


def _done_marker(root: Path, archive: Path) -> Path:
    return root / f".{archive.name}.done"


def _archive_stamp(archive: Path) -> dict[str, Any]:
    st = archive.stat()
    return {"archive": archive.name, "size": st.st_size}


def extraction_plan(archive: Path, root: Path) -> tuple[list[tuple[zipfile.ZipInfo, Path]], int]:
    """Every entry of ``archive`` with its target, checked before anything is written.

    Returns the entries still to write and the number of junk entries skipped.
    """
    folder = archive.name.split(".")[0]
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DownloadError(
            f"{archive} is not a readable zip archive ({exc}). Fix: delete it and rerun `lmms-humansense download` "
            "to fetch it again."
        ) from None
    plan: list[tuple[zipfile.ZipInfo, Path]] = []
    junk = 0
    seen: dict[PurePosixPath, str] = {}
    with zf:
        for info in zf.infolist():
            rel = _member_target(archive, info, folder)
            if rel is None:
                junk += not info.is_dir()
                continue
            if rel in seen:
                raise UnsafeArchiveError(
                    f"{archive}: entries {seen[rel]!r} and {info.filename!r} both extract to {rel}. "
                    "Refusing to extract: re-download the archive."
                )
            seen[rel] = info.filename
            plan.append((info, root.joinpath(*rel.parts)))
    return plan, junk


def extract_archive(
    archive: Path,
    root: Path,
    progress: bool = True,
    force: bool = False,
    after_file: Callable[[Path], None] | None = None,
) -> ExtractStats:
    """Extract one archive into ``root`` (resuming an earlier, interrupted extraction).

    Callers hold the root's lock.  ``after_file`` is called after each file lands (the tests use
    it to interrupt an extraction at a known point).
    """
    from tqdm import tqdm

    stats = ExtractStats(archive.name)
    done = _done_marker(root, archive)
    stamp = _archive_stamp(archive)
    if not force and done.is_file():
        try:
            if json.loads(done.read_text(encoding="utf-8")) == stamp:
                stats.already_done = True
                return stats
        except (OSError, json.JSONDecodeError):
            pass  # a damaged marker: extract again (whole files are kept)
    plan, stats.skipped_junk = extraction_plan(archive, root)
    todo = []
    for info, target in plan:
        if not force and target.is_file() and target.stat().st_size == info.file_size:
            stats.resumed += 1
        else:
            todo.append((info, target))
    need = sum(info.file_size for info, _ in todo)
    check_space({root: need}, what=f"extracting {archive.name} into {root}")
    with (
        zipfile.ZipFile(archive) as zf,
        tqdm(total=need, unit="B", unit_scale=True, desc=f"extract {archive.name}", disable=not progress) as bar,
    ):
        for info, target in todo:
            try:
                with atomic_target(target, ".part") as tmp, open(tmp, "wb") as out, zf.open(info) as src:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
            except zipfile.BadZipFile as exc:
                raise DownloadError(
                    f"{archive}: entry {info.filename!r} is damaged ({exc}). Fix: delete {archive} and rerun "
                    "`lmms-humansense download` to fetch it again."
                ) from None
            stats.written += 1
            stats.bytes_written += info.file_size
            if after_file is not None:
                after_file(target)
    write_text_atomically(done, json.dumps(stamp, sort_keys=True))
    return stats


# -- disk space ----------------------------------------------------------------------------------


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_space(needs: dict[Path, int], what: str) -> None:
    """Refuse to start when the file systems of ``needs`` lack the bytes (needs on one device add up)."""
    by_device: dict[int, tuple[Path, int, list[str]]] = {}
    for path, need in needs.items():
        if need <= 0:
            continue
        anchor = _existing_parent(path)
        dev = anchor.stat().st_dev
        prev = by_device.get(dev, (anchor, 0, []))
        by_device[dev] = (prev[0], prev[1] + need, [*prev[2], f"{need / GB:.1f} GB in {path}"])
    for anchor, need, parts in by_device.values():
        free = shutil.disk_usage(anchor).free
        if free < need:
            raise DownloadError(
                f"not enough free disk space for {what}: {need / GB:.1f} GB needed ({'; '.join(parts)}), "
                f"{free / GB:.1f} GB free on the file system of {anchor}. Fix: free space, choose another folder "
                "with --root, or move the Hugging Face cache (HF_HOME or HF_HUB_CACHE); --no-space-check skips "
                "this check."
            )


def _hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _download_need(revision: str) -> int:
    """Bytes still to fetch into the hub cache: the hub's own listing when it answers, else the documented sizes."""
    from huggingface_hub import snapshot_download

    try:  # already complete in the cache: nothing to fetch
        snapshot_download(
            HUB_REPO, repo_type="dataset", revision=revision, allow_patterns=ALLOW_PATTERNS, local_files_only=True
        )
        return 0
    except Exception:  # noqa: BLE001 - any failure means "not known to be cached"
        pass
    try:  # huggingface_hub >= 1.0 lists sizes without downloading
        infos = snapshot_download(
            HUB_REPO, repo_type="dataset", revision=revision, allow_patterns=ALLOW_PATTERNS, dry_run=True
        )
        return sum(int(i.file_size or 0) for i in infos if i.will_download)
    except Exception:  # noqa: BLE001 - offline, older huggingface_hub, or hub errors: the fetch itself will say
        return sum(ARCHIVES.values()) + sum(ANNOTATION_SIZES.values())


# -- the download --------------------------------------------------------------------------------


def fetch(revision: str = DEFAULT_REVISION) -> tuple[Path, str]:
    """``bench_data/`` of the hub dataset in the local hub cache: (its folder, the commit hash)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = Path(
            snapshot_download(HUB_REPO, repo_type="dataset", revision=revision, allow_patterns=ALLOW_PATTERNS)
        )
    except LocalEntryNotFoundError as exc:
        from huggingface_hub import constants

        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the hub cannot be reached"
        fix = "unset HF_HUB_OFFLINE" if constants.HF_HUB_OFFLINE else "check the network or HF_ENDPOINT and retry"
        raise DownloadError(
            f"{HUB_REPO} (revision {revision}) is not in the Hugging Face cache {_hub_cache_dir()} and {why} "
            f"({exc}). Fix: {fix}, or run `lmms-humansense download` once on a machine with network "
            "access and copy its HF_HOME (or the data root) here."
        ) from None
    folder = snapshot / HUB_FOLDER
    missing = [n for n in (*ANNOTATION_FILES, *ARCHIVES) if not (folder / n).is_file()]
    if missing:
        raise DownloadError(
            f"{folder} lacks {', '.join(missing)} after the download of {HUB_REPO} at revision {revision}. "
            "Fix: rerun `lmms-humansense download` with network access (it resumes), or check --revision."
        )
    return folder, snapshot.name


def read_marker(root: Path) -> dict[str, Any] | None:
    path = root / COMPLETE_MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _wait_for_lock(lock_path: Path, log: Callable[[str], None]) -> Any:
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"another process is downloading or extracting into {lock_path.parent}; waiting for it to finish")
        lock.acquire()
    return lock


def _complete(root: Path, revision: str | None, force: bool, log: Callable[[str], None]) -> bool:
    """Whether ``root`` already holds a finished extraction of ``revision`` (any, when ``None``); one
    of another revision is refused unless ``force``."""
    marker = read_marker(root)
    if marker is None or force or (root / INCOMPLETE_MARKER).exists():
        return False
    have = marker.get("revision"), marker.get("commit")
    if revision is None or revision in have:
        log(f"{root} is complete (revision {have[0]}, commit {have[1]}); nothing to do")
        return True
    raise DownloadError(
        f"{root} already holds revision {have[0]} (commit {have[1]}), not {revision}. Fix: pass --force to "
        "replace it, or choose another folder with --root."
    )


def _check_download_space(root: Path, wanted: str) -> None:
    """Room for what is still to fetch (the hub cache) and to extract (the root)."""
    fetch_need = _download_need(wanted)
    # With the archives already in the hub cache, extraction checks their real sizes itself
    # (``extract_archive``); the documented sizes only stand in for archives not yet fetched.
    extracted = (root / f".{next(iter(ARCHIVES))}.done").is_file()
    extract_need = 0 if extracted or fetch_need == 0 else sum(ARCHIVES.values())
    check_space(
        {_hub_cache_dir(): fetch_need, root: extract_need},
        what=f"the HumanSense benchmark ({HUB_REPO}/{HUB_FOLDER})",
    )


def _extract(
    folder: Path,
    root: Path,
    wanted: str,
    commit: str,
    *,
    force: bool,
    progress: bool,
    log: Callable[[str], None],
    after_file: Callable[[Path], None] | None,
) -> None:
    """Copy the annotation files and extract the archives from the fetched ``folder`` into ``root``,
    marked incomplete until the last file is in place."""
    (root / INCOMPLETE_MARKER).write_text(
        "An extraction is under way or was interrupted; rerun `lmms-humansense download`.\n", encoding="utf-8"
    )
    (root / COMPLETE_MARKER).unlink(missing_ok=True)
    log(f"{HUB_REPO} revision {wanted} = commit {commit}; extracting into {root}")
    for name in ANNOTATION_FILES:
        with atomic_target(root / name) as tmp:
            shutil.copyfile(folder / name, tmp)
    for name in ARCHIVES:
        stats = extract_archive(folder / name, root, progress=progress, force=force, after_file=after_file)
        if stats.already_done:
            log(f"{name}: already extracted")
        else:
            junk = f", {stats.skipped_junk} non-benchmark entries (__MACOSX/) skipped" if stats.skipped_junk else ""
            log(f"{name}: {stats.written} files written, {stats.resumed} kept from an earlier run{junk}")
    record = {"repo": HUB_REPO, "folder": HUB_FOLDER, "revision": wanted, "commit": commit}
    write_text_atomically(root / COMPLETE_MARKER, json.dumps(record, indent=1, sort_keys=True) + "\n")
    (root / INCOMPLETE_MARKER).unlink()


def download(
    root: Path | None = None,
    revision: str | None = None,
    *,
    force: bool = False,
    space_check: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = print,
    after_file: Callable[[Path], None] | None = None,
) -> Path:
    """Fetch and extract the benchmark into ``root`` once; returns the root.

    Safe to call from every rank of a multi-process run: the first extracts, the others wait on the
    lock and then find the completion marker.
    """
    root = (root or default_root()).expanduser().absolute()
    wanted = revision or DEFAULT_REVISION
    if root.exists() and not root.is_dir():
        raise DownloadError(f"{root} is a file; pass --root a folder (it is created) or move the file away")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    lock_was_there = (root / LOCK_FILE).exists()
    lock = _wait_for_lock(root / LOCK_FILE, log)
    fetched = False
    try:
        if _complete(root, revision, force, log):
            return root
        if space_check:
            _check_download_space(root, wanted)
        folder, commit = fetch(wanted)  # into the hub cache: the root is untouched until it succeeds
        fetched = True
        _extract(folder, root, wanted, commit, force=force, progress=progress, log=log, after_file=after_file)
        return root
    finally:
        lock.release()
        if not fetched and not lock_was_there:  # nothing was extracted: leave nothing behind, not even the lock
            (root / LOCK_FILE).unlink(missing_ok=True)
            if created:  # nor the folder the tasks would look at
                with contextlib.suppress(OSError):
                    root.rmdir()


# -- command line --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=Path, help=f"where the benchmark goes (default: {default_root()}, found by the tasks by itself)"
    )
    parser.add_argument(
        "--revision", help=f"hub revision: branch, tag or commit hash (default: {DEFAULT_REVISION}, see the README)"
    )
    parser.add_argument("--force", action="store_true", help="extract again, replacing what the root holds")
    parser.add_argument("--no-space-check", action="store_true", help="skip the free-disk-space check")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    def log(message: str) -> None:
        print(f"lmms-humansense download: {message}", file=sys.stderr)

    try:
        root = download(
            args.root,
            args.revision,
            force=args.force,
            space_check=not args.no_space_check,
            progress=not args.no_progress,
            log=log,
        )
    except DownloadError as exc:
        print(f"lmms-humansense download: error: {exc}", file=sys.stderr)
        return 2
    if root == default_root().absolute():
        log("done; the tasks find this root by themselves (no HUMANSENSE_ROOT needed)")
    else:
        log(f'done; point the tasks at it: export {ENV_VAR}="{root}"')
    print(root)
    return 0
