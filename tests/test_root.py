"""Finding the data root and the media in it: layout, environment, the sample set, paths that must stay inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_humansense import sample_root
from lmms_humansense.data.root import DataRootError, resolve_media, resolve_root
from lmms_humansense.data.schema import _load_all, load_all_docs


def test_root_from_env_and_folder_above_data(
    generated_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUMANSENSE_ROOT", str(generated_root))
    assert resolve_root() == generated_root.resolve()
    (tmp_path / "data").symlink_to(generated_root)
    monkeypatch.setenv("HUMANSENSE_ROOT", str(tmp_path))
    assert resolve_root() == (tmp_path / "data").resolve() or resolve_root().name == "data"


def test_without_root_the_error_says_where_the_data_lives() -> None:
    with pytest.raises(DataRootError) as err:
        resolve_root()
    text = str(err.value)
    assert "HUMANSENSE_ROOT" in text and "antgroup/HumanSense_Benchmark" in text and "sample-root" in text


def test_root_without_annotations_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataRootError, match="holds neither"):
        resolve_root(tmp_path)


@pytest.mark.parametrize(
    "raw", ["data/videos/es_000.mp4", "videos/es_000.mp4", "es_000.mp4", "x/y/data/videos/es_000.mp4"]
)
def test_media_paths_resolve_whatever_prefix(generated_root: Path, raw: str) -> None:
    assert resolve_media(generated_root, raw, "videos") == generated_root / "videos" / "es_000.mp4"


def test_absolute_media_path(generated_root: Path) -> None:
    target = generated_root / "videos" / "es_000.mp4"
    assert resolve_media(generated_root, str(target), "videos") == target


def test_sample_set_ships_and_is_marked(caplog: pytest.LogCaptureFixture) -> None:
    root = sample_root()
    assert (root / "HumanSense_VQA.json").is_file() and (root / "SAMPLE.md").is_file()
    # the installed copy says where its generator lives (a wheel has no tests/)
    assert "clone of the source repository" in (root / "SAMPLE.md").read_text(encoding="utf-8")
    _load_all.cache_clear()  # the note is logged when a root is first read
    with caplog.at_level("WARNING", logger="lmms_humansense"):
        docs = load_all_docs(root)
    total = sum(map(len, docs.values()))
    (note,) = [r.getMessage() for r in caplog.records if "SAMPLE set" in r.getMessage()]
    # per task, since a run of a few tasks asks only theirs; the total is named as over all tasks
    assert note.endswith(f"questions a task ({total} over all {len(docs)} tasks)"), note
    assert all(len(v) >= 2 for v in docs.values())
    fmts = {(d["answer_format"], len(d["options"])) for v in docs.values() for d in v}
    assert {("single", 2), ("single", 3), ("single", 4), ("single", 5), ("multi", 4), ("numeric", 0)} <= fmts
