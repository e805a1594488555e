"""Mapping the data's ``task_type`` strings onto the 15 task codes.

Only 7 of the 15 official ``task_type`` strings are spelled out in public code (plus AC's,
inferred); the other 8 must come from the data.  Guessing them silently could put a question in
the wrong task, so an unknown string stops loading with an error that lists every such string,
how often it occurs and a suggested code, and says where to write the mapping.  A mapping comes
from, in this order of precedence: the ``HUMANSENSE_TASK_MAP`` environment variable (a JSON file,
or inline ``String=CODE,String=CODE``), a ``humansense_task_map.json`` file in the data root, the
catalog.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections import Counter
from pathlib import Path

from lmms_humansense.catalog import BY_CODE, TASKS, known_task_types

ENV_VAR = "HUMANSENSE_TASK_MAP"
ROOT_FILE = "humansense_task_map.json"


class TaskMapError(ValueError):
    """The data holds task_type strings no mapping covers, or a mapping names no task."""


def _check_codes(mapping: dict[str, str], source: str) -> dict[str, str]:
    out = {}
    for key, code in mapping.items():
        if not isinstance(code, str) or code.upper() not in BY_CODE:
            raise TaskMapError(
                f"task map {source}: {key!r} maps to {code!r}, which is not a task code; "
                f"use one of {', '.join(BY_CODE)}"
            )
        out[str(key)] = code.upper()
    return out


def _read_spec(spec: str, source: str) -> dict[str, str]:
    path = Path(spec).expanduser()
    if path.suffix == ".json" or path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TaskMapError(f"task map {source}: file {path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise TaskMapError(f"task map {source}: {path} is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise TaskMapError(f'task map {source}: {path} must hold a JSON object {{"task_type": "CODE"}}')
        return _check_codes(data, f"{source} ({path})")
    pairs = [p for p in re.split(r"[,;]", spec) if p.strip()]
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise TaskMapError(f"task map {source}: {pair!r} is not of the form task_type=CODE")
        key, code = pair.rsplit("=", 1)
        mapping[key.strip()] = code.strip()
    return _check_codes(mapping, source)


def load_task_map(root: Path | None = None) -> dict[str, str]:
    """The effective task_type -> code mapping for a data root."""
    mapping = dict(known_task_types())
    if root is not None and (root / ROOT_FILE).is_file():
        mapping.update(_read_spec(str(root / ROOT_FILE), f"file {ROOT_FILE}"))
    spec = os.environ.get(ENV_VAR, "").strip()
    if spec:
        mapping.update(_read_spec(spec, f"${ENV_VAR}"))
    return mapping


def suggest_code(task_type: str, count: int | None = None) -> str | None:
    """The most likely code for an unknown string, by name similarity (and count, on a tie)."""

    def norm(s: str) -> str:
        return re.sub(r"[^a-z]", "", s.lower())

    scored = []
    for t in TASKS:
        ratio = difflib.SequenceMatcher(None, norm(task_type), norm(t.name)).ratio()
        first_word = norm(t.name.split()[0].split("-")[0])
        if first_word and first_word[:4] in norm(task_type):
            ratio += 0.5
        if count is not None and count == t.expected:
            ratio += 0.1
        scored.append((ratio, t.code))
    scored.sort(reverse=True)
    return scored[0][1] if scored and scored[0][0] >= 0.5 else None


def unknown_error(unknown: Counter, root: Path | None) -> TaskMapError:
    """The error for unmapped strings: each with its count and a suggestion, and the fix."""
    lines = [f"HumanSense data holds {len(unknown)} task_type string(s) that no mapping covers:"]
    suggestion = {}
    for name, n in sorted(unknown.items()):
        code = suggest_code(name, n)
        hint = f" -> probably {code} ({BY_CODE[code].name}, {BY_CODE[code].expected} in the paper)" if code else ""
        lines.append(f"  {name!r}: {n} record(s){hint}")
        if code:
            suggestion[name] = code
    target = root / ROOT_FILE if root else Path(ROOT_FILE)
    lines.append(
        f"Fix: write the mapping as JSON to {target} (or point ${ENV_VAR} at such a file, "
        f"or set ${ENV_VAR}='String=CODE,String=CODE'); valid codes: {', '.join(BY_CODE)}."
    )
    if suggestion:
        lines.append(f"Suggested content (check it against the counts above): {json.dumps(suggestion)}")
    return TaskMapError("\n".join(lines))
