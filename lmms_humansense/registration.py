"""Making lmms-eval know HumanSense with no flag: the ``lmms_eval.models`` entry point.

lmms-eval 0.7.3 has no entry point for tasks, and ``LMMS_EVAL_PLUGINS`` adds a plugin's task folder
only after the TaskManager is built (``lmms_eval/__main__.py``, ``cli_evaluate_single``), so it
never registers tasks.  Its model entry point, however, is loaded when ``lmms_eval.models`` is
imported, which every evaluation path (the ``lmms-eval`` CLI, ``python -m lmms_eval``,
``simple_evaluate``) does before it builds a TaskManager.  :func:`register` uses that moment to
add this package's task folder to every TaskManager that indexes lmms-eval's default tasks, and
returns the package's model manifests.

This touches lmms-eval internals, so it is guarded: if ``TaskManager.initialize_tasks`` is not what
0.7.x has, lmms-eval runs as usual and one warning line says to pass
``--include_path "$(lmms-humansense tasks-dir)"``, which always works.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

log = logging.getLogger("lmms_humansense")

_PATCH_FLAG = "_humansense_include"
_warned = False


def _fallback_warning(reason: str) -> None:
    """One line per process, however often lmms-eval loads the entry point."""
    global _warned
    if _warned:
        return
    _warned = True
    log.warning(
        "lmms_humansense: could not register the HumanSense tasks automatically (%s); "
        'pass --include_path "$(lmms-humansense tasks-dir)" to lmms-eval.',
        reason,
    )


def install_task_path() -> bool:
    """Make every default-indexing TaskManager also index the HumanSense folder. Idempotent."""
    try:
        from lmms_eval.tasks import TaskManager
    except Exception as exc:  # lmms-eval missing or broken: nothing to patch
        _fallback_warning(f"lmms_eval.tasks.TaskManager is not importable: {exc}")
        return False
    original = getattr(TaskManager, "initialize_tasks", None)
    if original is None:
        _fallback_warning("TaskManager.initialize_tasks does not exist in this lmms-eval")
        return False
    if getattr(original, _PATCH_FLAG, False):
        return True
    params = inspect.signature(original).parameters
    if "include_path" not in params or "include_defaults" not in params:
        _fallback_warning("TaskManager.initialize_tasks has an unexpected signature")
        return False

    from lmms_humansense.taskgen import tasks_dir

    folder = str(tasks_dir())

    @functools.wraps(original)
    def initialize_tasks(self: Any, include_path: Any = None, include_defaults: bool = True) -> Any:
        if include_defaults:
            paths = (
                [] if include_path is None else [include_path] if isinstance(include_path, str) else list(include_path)
            )
            if not any(str(p).rstrip("/") == folder.rstrip("/") for p in paths):
                paths.append(folder)
            include_path = paths
        return original(self, include_path=include_path, include_defaults=include_defaults)

    setattr(initialize_tasks, _PATCH_FLAG, True)
    TaskManager.initialize_tasks = initialize_tasks
    return True


def manifests() -> list[Any]:
    """The models this package adds to lmms-eval."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return [
        ModelManifest(
            model_id="humansense_random", chat_class_path="lmms_humansense.models.random_baseline.RandomBaseline"
        ),
        ModelManifest(model_id="humansense_omni", simple_class_path="lmms_humansense.models.omni.HumanSenseOmni"),
        ModelManifest(model_id="humansense_openai", simple_class_path="lmms_humansense.models.served.HumanSenseServed"),
    ]


def list_models(found: list[Any]) -> None:
    """Make ``lmms-eval models`` (and its wizard) list this package's models.

    lmms-eval 0.7.3 lists two name -> class dicts of ``lmms_eval.models``, not the registry the
    entry point fills, so entry-point models would run but stay unlisted.  Its own
    ``LMMS_EVAL_PLUGINS`` path adds plugin models to those dicts; this does the same, with full
    class paths (which lmms-eval keeps as they are if it ever rebuilds its manifests from them).
    """
    import sys

    module = sys.modules.get("lmms_eval.models")  # being imported right now: this runs inside it
    simple = getattr(module, "AVAILABLE_SIMPLE_MODELS", None)
    chat = getattr(module, "AVAILABLE_CHAT_TEMPLATE_MODELS", None)
    if not isinstance(simple, dict) or not isinstance(chat, dict):
        return
    for manifest in found:
        if manifest.simple_class_path:
            simple.setdefault(manifest.model_id, manifest.simple_class_path)
        if manifest.chat_class_path:
            chat.setdefault(manifest.model_id, manifest.chat_class_path)


def register() -> list[Any]:
    """The entry point lmms-eval calls: register the task folder, return the model manifests."""
    try:
        install_task_path()
    except Exception as exc:  # never break lmms-eval because of this package
        _fallback_warning(f"{type(exc).__name__}: {exc}")
    found = manifests()
    try:
        list_models(found)
    except Exception:  # noqa: BLE001 - listing is a convenience; the models run without it
        log.debug("lmms_humansense: could not add the models to lmms-eval's listing", exc_info=True)
    return found
