"""The data's ``task_type`` strings -> the 15 task codes.  Public code spells out 7 of them, and a guess
could put a question in the wrong task, so an unknown string stops loading unless resolved with certainty.
Precedence: ``$HUMANSENSE_TASK_MAP``, the root's ``humansense_task_map.json``, a resolution, the catalog."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from pathlib import Path

from lmms_humansense.catalog import BY_CODE, TASKS, off_paper_counts
from lmms_humansense.data.root import annotation_digest, cache_home
from lmms_humansense.files import write_text_atomically

ENV_VAR = "HUMANSENSE_TASK_MAP"
ROOT_FILE = "humansense_task_map.json"
#: Where earlier versions wrote a resolution into the root (part of the docs' cache key only).
RESOLVED_FILE = "humansense_task_map.resolved.json"
#: A task's name must match a string this well, and this many times better than the runner-up's.
_MIN_SCORE, _CLEAR_MARGIN = 0.3, 2.0


class TaskMapError(ValueError):
    """The data holds task_type strings no mapping covers, or a mapping names no task."""


def _check_codes(mapping: dict[str, str], source: str) -> dict[str, str]:
    for key, code in mapping.items():
        if not isinstance(code, str) or code.upper() not in BY_CODE:
            raise TaskMapError(
                f"task map {source}: {key!r} maps to {code!r}, which is not a task code; "
                f"use one of {', '.join(BY_CODE)}"
            )
    return {str(key): code.upper() for key, code in mapping.items()}


def read_spec(spec: str, source: str) -> dict[str, str]:
    """A mapping given as a JSON file path or inline pairs (``source`` names it in errors)."""
    path = Path(spec).expanduser()
    try:  # an inline list may be too long a name for ``is_file``
        is_file = spec.endswith(".json") or ("=" not in spec and path.is_file())
    except OSError:
        is_file = False
    if is_file:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TaskMapError(f"task map {source}: file {path} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TaskMapError(f"task map {source}: {path} is not valid UTF-8 JSON ({exc})") from None
        except OSError as exc:
            raise TaskMapError(f"task map {source}: {path} cannot be read ({exc.strerror})") from None
        if not isinstance(data, dict):
            raise TaskMapError(f'task map {source}: {path} must hold a JSON object {{"task_type": "CODE"}}')
        return _check_codes(data, f"{source} ({path})")
    pairs = [p for p in re.split(r"[,;]", spec) if p.strip()]
    if bad := [p for p in pairs if "=" not in p]:
        raise TaskMapError(f"task map {source}: {bad[0]!r} is not of the form task_type=CODE")
    return _check_codes({key.strip(): code.strip() for key, code in (p.rsplit("=", 1) for p in pairs)}, source)


def resolved_cache_file(root: Path) -> Path:
    """A root's automatic resolution, in the cache (the root may be shared or read-only), keyed by the
    annotation files' contents, so a changed file is resolved again."""
    return cache_home() / "task_maps" / f"{annotation_digest(root)}.json"


def load_task_map(root: Path | None = None) -> dict[str, str]:
    """The effective task_type -> code mapping for a data root, by the module's precedence."""
    mapping = {t.task_type: t.code for t in TASKS if t.task_type}
    if root is not None:
        if (path := resolved_cache_file(root)).is_file():
            mapping.update(read_spec(str(path), f"file {path} (resolved automatically)"))
        if (root / ROOT_FILE).is_file():
            mapping.update(read_spec(str(root / ROOT_FILE), f"file {ROOT_FILE}"))
    if spec := os.environ.get(ENV_VAR, "").strip():
        mapping.update(read_spec(spec, f"${ENV_VAR}"))
    return mapping


def remember_resolution(root: Path, mapping: dict[str, str]) -> Path | None:
    """Keep a resolution for the next load, ``verify`` and ``score``; ``None`` if not writable."""
    path = resolved_cache_file(root)
    try:  # atomically: several ranks may resolve at once
        write_text_atomically(path, json.dumps(mapping, indent=1, sort_keys=True) + "\n")
    except OSError:
        return None
    return path


def name_scores(task_type: str) -> dict[str, float]:
    """How well each task's name matches a string: an overlap of words weighted by rarity (so
    ``Appearance_Recognition`` is Person Appearance); a short word matches one it begins (``Emo``)."""

    def words(text: str) -> list[str]:
        return [w for w in re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()) if w]

    def same(token: str, word: str) -> bool:
        return token == word or (len(token) >= 3 and word.startswith(token))

    vocab = {t.code: words(t.name) for t in TASKS}
    all_words = {w for ws in vocab.values() for w in ws}
    longest_first = sorted(all_words, key=len, reverse=True)
    weight = {w: math.log(len(TASKS) / sum(w in ws for ws in vocab.values())) + 0.1 for w in all_words}
    tokens = []
    for word in words(task_type):  # a run-together word (``actionrecognition``) split into catalog words
        while head := next((w for w in longest_first if len(w) >= 4 and word.startswith(w) and word != w), None):
            tokens.append(head)
            word = word[len(head) :]
        tokens.append(word)
    scores = {}
    for code, names in vocab.items():
        matched = sum(weight[w] for w in set(names) if any(same(t, w) for t in tokens))
        extra = sum(
            max((weight[w] for w in all_words if same(t, w)), default=math.log(len(TASKS)) + 0.1)
            for t in set(tokens)
            if not any(same(t, w) for w in names)
        )
        total = sum(weight[w] for w in set(names)) + extra
        scores[code] = matched / total if total else 0.0
    return scores


def suggest_code(task_type: str, count: int | None = None) -> str | None:
    """The likeliest code by :func:`name_scores` (as the resolution), the count breaking a near tie."""
    scores = name_scores(task_type)
    tie_break = {t.code: 0.1 if count is not None and count == t.paper_count else 0.0 for t in TASKS}
    best = max(scores, key=lambda code: scores[code] + tie_break[code])
    return best if scores[best] >= _MIN_SCORE else None


def unknown_error(unknown: Counter, root: Path | None, note: str = "") -> TaskMapError:
    """The error for unmapped strings: each counted with a suggestion, ``note``, then the fix."""
    lines = [f"HumanSense data holds {len(unknown)} task_type string(s) that no mapping covers:"]
    suggestion = {}
    for name, n in sorted(unknown.items()):
        code = suggest_code(name, n)
        hint = f" -> probably {code} ({BY_CODE[code].name}, {BY_CODE[code].paper_count} in the paper)" if code else ""
        lines.append(f"  {name!r}: {n} record(s){hint}")
        if code:
            suggestion[name] = code
    if note:
        lines.append(note)
    lines.append(
        f"Fix: write the mapping as JSON to {root / ROOT_FILE if root else Path(ROOT_FILE)} (or point ${ENV_VAR} at "
        f"such a file, or set ${ENV_VAR}='String=CODE,String=CODE'); valid codes: {', '.join(BY_CODE)}."
    )
    if suggestion:
        lines.append(f"Suggested content (check it against the counts above): {json.dumps(suggestion)}")
    return TaskMapError("\n".join(lines))


def resolve_by_counts(
    unknown: Counter, mapped: Counter, formats: dict[str, set[str]]
) -> tuple[dict[str, str] | None, str]:
    """A mapping for the unknown strings if certain (each one task's name clearly, with its answer
    ``formats``, and every count with ``mapped`` the paper's), else ``None`` and why not."""
    guess: dict[str, str] = {}  # each string's one clearly best-matching task
    for name in unknown:
        (best, s1), (_, s2) = sorted(name_scores(name).items(), key=lambda kv: kv[1], reverse=True)[:2]
        if s1 >= _MIN_SCORE and s1 >= _CLEAR_MARGIN * s2:
            guess[name] = best
    if unclear := sorted(name for name in unknown if name not in guess):
        return None, f"no single task's name clearly fits {', '.join(repr(n) for n in unclear)}"
    counts = Counter(mapped)
    for name, code in guess.items():
        counts[code] += unknown[name]
    if off := off_paper_counts(counts):
        return None, f"mapped by name, the per-task counts would differ from the paper's: {', '.join(off)}"
    disagree = [
        f"{name!r} ({'/'.join(sorted(formats[name]))} questions) is {code}'s name, but {code} asks "
        f"{BY_CODE[code].answer_format} questions"
        for name, code in sorted(guess.items())
        if formats.get(name) and formats[name] != {BY_CODE[code].answer_format}
    ]
    if disagree:
        return None, f"the question patterns disagree with the tasks the names fit: {'; '.join(disagree)}"
    return guess, ""
