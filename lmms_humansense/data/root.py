"""Where the benchmark files are: the data root and the media paths inside it.  The official runner joins
the working folder with each ``video_path`` (``data/videos/x.mp4``), so the root may be the folder holding
the JSON files or the one above ``data/``, whatever prefix a path carries."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from importlib.util import find_spec
from pathlib import Path

ENV_VAR = "HUMANSENSE_ROOT"
VQA_FILE = "HumanSense_VQA.json"
AQA_FILE = "HumanSense_AQA.json"
ANNOTATION_FILES = (VQA_FILE, AQA_FILE)
#: Written last by ``lmms-humansense download``; the one below is there while it extracts (never used then).
COMPLETE_MARKER = ".humansense_complete"
INCOMPLETE_MARKER = ".humansense_incomplete"
#: Present in the bundled sample set, so reports can say a run was on the sample.
SAMPLE_MARKER = "SAMPLE.md"
HUB_REPO = "antgroup/HumanSense_Benchmark"


class DataRootError(FileNotFoundError):
    """No usable data root: says where the files live and how to point the package at them."""


def cache_home() -> Path:
    """The package's cache folder (``$HUMANSENSE_CACHE``, else ``$XDG_CACHE_HOME`` or ~/.cache)."""
    if explicit := os.environ.get("HUMANSENSE_CACHE"):
        return Path(explicit).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")).expanduser() / "lmms_humansense"


def default_root() -> Path:
    """Where ``lmms-humansense download`` puts the benchmark when no ``--root`` is given."""
    return cache_home() / "HumanSense_Benchmark"


def annotation_digest(root: Path) -> str:
    """sha256 over a root's two annotation files (each name and content), first 16 hex digits."""
    digest = hashlib.sha256()
    for name in ANNOTATION_FILES:
        path = Path(root) / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    return digest.hexdigest()[:16]


def files_stamp(root: Path, names: Iterable[str]) -> tuple[tuple[str, int, int, int], ...]:
    """(name, size, mtime, ctime) of each file of ``names`` in ``root``: a cache key for what was read
    from them (the ctime too: a file replaced with its size and mtime kept is another file)."""
    stats = ((name, (Path(root) / name).stat()) for name in names if (Path(root) / name).is_file())
    return tuple((name, st.st_size, st.st_mtime_ns, st.st_ctime_ns) for name, st in stats)


def _installed() -> bool:
    """Whether ``lmms-humansense`` exists here (not in lmms-eval's task folder without the package)."""
    try:
        return find_spec("lmms_humansense") is not None
    except (ImportError, ValueError):
        return False


def tool(command: str) -> str:
    """``lmms-humansense <command>`` as a message names it, with how to get it if it is missing."""
    return f"`lmms-humansense {command}`" + ("" if _installed() else " (`pip install lmms_humansense` brings it)")


def resolve_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``explicit``, else ``$HUMANSENSE_ROOT``, else a completed default download."""

    def how() -> str:
        sample = f' To try the package on the bundled sample set: export {ENV_VAR}="$(lmms-humansense sample-root)".'
        return (
            f"Point ${ENV_VAR} at a folder in the official layout ({VQA_FILE}, {AQA_FILE}, videos/, audios/). "
            f"The files are in bench_data/ of the Hugging Face dataset {HUB_REPO} "
            f"(run {tool('download')} to fetch and extract only those into {default_root()})."
        ) + (sample if _installed() else "")

    def annotated(folder: Path) -> bool:
        return any((folder / f).is_file() for f in ANNOTATION_FILES)

    raw = explicit if explicit is not None else os.environ.get(ENV_VAR, "").strip() or None
    if raw is None:
        if (default_root() / COMPLETE_MARKER).is_file():
            return default_root()
        raise DataRootError(f"HumanSense data not found: ${ENV_VAR} is not set. {how()}")
    path = Path(raw).expanduser().resolve()
    if not annotated(path) and annotated(path / "data"):
        path = path / "data"  # the folder above data/
    if not path.is_dir():
        origin = "from --root" if explicit is not None else f"from ${ENV_VAR}"
        raise DataRootError(f"HumanSense data root {path} ({origin}) is not a folder. {how()}")
    if not annotated(path):
        raise DataRootError(f"HumanSense data root {path} holds neither {VQA_FILE} nor {AQA_FILE}. {how()}")
    if (path / INCOMPLETE_MARKER).exists():  # it would fail later, on some file, mid-run
        raise DataRootError(
            f"HumanSense data root {path}: an extraction into it did not finish ({INCOMPLETE_MARKER} is present). "
            f"Fix: rerun {tool(f'download --root {path}')} (it resumes), or delete {path / INCOMPLETE_MARKER} "
            "if you filled the folder yourself and know it is complete."
        )
    return path


def is_sample(root: Path) -> bool:
    """Whether ``root`` is the sample set bundled beside this module (its counts differ from the
    paper's); a ``SAMPLE.md`` copied into another root must not switch the count checks off."""
    bundled = Path(__file__).resolve().parent.parent / "sample"
    return (root / SAMPLE_MARKER).is_file() and root.resolve() == bundled.resolve()


def resolve_media(root: Path, raw: str, kind: str) -> Path | None:
    """The file a JSON media path names, or ``None``: the path under the root with its leading parts
    dropped one at a time (``data/videos/x.mp4``, ``videos/x.mp4``, ``x.mp4``), then ``<kind>/<name>``;
    an absolute path is read as relative to the root and ``..`` is never followed."""
    path = Path(raw.replace("\\", "/"))
    parts = [p for p in path.parts if p not in ("/", "", ".", "..") and p != path.anchor]
    tails = [root.joinpath(*parts[k:]) for k in range(len(parts))]
    return next((c for c in [*tails, root / kind / path.name] if c.is_file()), None)
