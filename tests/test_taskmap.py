"""Mapping task_type strings to tasks: listed unknowns with counts and suggestions, the environment, refused codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmms_humansense.data.schema import load_task_docs
from lmms_humansense.data.taskmap import TaskMapError, suggest_code


def test_unknown_task_types_are_listed_with_counts_and_suggestions(root_copy: Path) -> None:
    (root_copy / "humansense_task_map.json").unlink()
    with pytest.raises(TaskMapError) as err:
        load_task_docs(root_copy, "AR")
    text = str(err.value)
    assert "'Action_Recognition': 2 record(s) -> probably AR" in text
    assert "'Human_Counting': 2 record(s) -> probably HC" in text
    assert "humansense_task_map.json" in text and "HUMANSENSE_TASK_MAP" in text
    assert text.count("record(s)") == 7


def test_mapping_from_environment(root_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = json.loads((root_copy / "humansense_task_map.json").read_text())
    (root_copy / "humansense_task_map.json").unlink()
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", ",".join(f"{k}={v}" for k, v in mapping.items()))
    assert len(load_task_docs(root_copy, "LD")) == 2
    file = root_copy.parent / "map.json"
    file.write_text(json.dumps(mapping))
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", str(file))
    assert len(load_task_docs(root_copy, "GR")) == 2


def test_mapping_to_an_unknown_code_is_refused(root_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMANSENSE_TASK_MAP", "Action_Recognition=XX")
    with pytest.raises(TaskMapError, match="not a task code"):
        load_task_docs(root_copy, "AR")


def test_suggestions_by_name() -> None:
    assert suggest_code("Lie_Detection") == "LD"
    assert suggest_code("Person_Appearance") == "PA"
    assert suggest_code("zzzz") is None
