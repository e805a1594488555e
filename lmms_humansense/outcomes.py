"""What became of a question, decided here and nowhere else, so that a broken wrapper never passes for
a bad model: lmms-eval's chat wrappers answer ``""`` when the model call raises, its API wrappers answer
a request-failure text, and the run still exits 0.  ``empty`` stays in ``acc``'s denominator (scored
0); ``request_failed`` and ``media_error`` leave every denominator.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("lmms_humansense")

ANSWERED = "answered"
EMPTY = "empty"
REQUEST_FAILED = "request_failed"
MEDIA_ERROR = "media_error"
#: Outcomes left out of every denominator: the model was never asked, or never heard the question.
NOT_ANSWERED = frozenset({REQUEST_FAILED, MEDIA_ERROR})
#: How lmms-eval 0.7.3 marks a failed API request in the answer text (``models/chat/openai.py``).
REQUEST_FAILED_MARKER = "[LMMS_EVAL_REQUEST_FAILED"
#: How a model of this package marks a question it could not ask in the answer text itself, so the
#: outcome survives lmms-eval's ``--use_cache`` (it stores the text only, and its audit-log replay
#: would otherwise serve the media error back as an empty, scored answer).
MEDIA_ERROR_MARKER = "[HUMANSENSE_MEDIA_ERROR]"
#: Above this share of empty or not-answered answers a task's accuracy says nothing about the model.
MOSTLY = 0.5
#: How much of an error text travels in a logged sample's metric item.
ERROR_CHARS = 300


def classify(response: str, fed: dict[str, Any] | None = None) -> tuple[str, str | None]:
    """The outcome of one answer and its error text.  A fed record's own outcome wins: a model of this
    package knows why it has no answer better than its text can say."""
    if fed is not None and fed.get("outcome") in NOT_ANSWERED:
        return str(fed["outcome"]), str(fed.get("error") or "")
    text = response.strip()
    if text.startswith(MEDIA_ERROR_MARKER):
        return MEDIA_ERROR, text[len(MEDIA_ERROR_MARKER) :].strip()
    if text.startswith(REQUEST_FAILED_MARKER):
        return REQUEST_FAILED, text
    return (ANSWERED, None) if text else (EMPTY, None)


def outcome_item(outcome: str, error: str | None, clip: str, task: str) -> dict[str, Any]:
    """The item the count metrics aggregate: no ``score`` (lmms-eval computes no standard error of a
    count), and the task, which an aggregation is not told."""
    item: dict[str, Any] = {"outcome": outcome, "clip": clip, "task": task}
    if error:
        item["error"] = error[:ERROR_CHARS]
    return item


def count_empty(items: Iterable[Any]) -> int:
    """Leaf aggregation of ``empty``."""
    return sum(1 for x in items if isinstance(x, dict) and x.get("outcome") == EMPTY)


def running_wrapper(args: Any = None) -> str:
    """The run's ``--model``: the CLI hands its arguments to the aggregation, ``simple_evaluate`` hands
    ``None``, but its frame holds the ``model`` (a name, or an object named by its class as lmms-eval's
    results config names it)."""
    name = getattr(args, "model", None)
    if name:
        return str(name)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "simple_evaluate" and frame.f_globals.get("__name__") == "lmms_eval.evaluator":
            model = frame.f_locals.get("model")
            if model is not None:
                return model if isinstance(model, str) else type(model).__name__
        frame = frame.f_back
    return "the model"


def count_not_answered(items: Iterable[Any], args: Any = None) -> int:
    """Leaf aggregation of ``not_answered`` (request failed, media error).  lmms-eval calls it once per
    task with every answer in: the place to say loudly that a task's numbers are void."""
    outcomes = [x for x in items if isinstance(x, dict) and "outcome" in x]
    failed = [x for x in outcomes if x["outcome"] in NOT_ANSWERED]
    empty = count_empty(outcomes)
    first = (failed[0].get("error") or "(no error text)") if failed else None
    if outcomes and (empty + len(failed)) / len(outcomes) > MOSTLY:
        wrapper = running_wrapper(args)
        if len(failed) < empty:
            cause = (
                "lmms-eval's chat wrappers answer an empty string when the model call raises (the log above holds "
                f"'Error in generating' with the traceback): `{wrapper}` most likely cannot run here (a device it "
                "hard-codes, e.g. CUDA on a CPU machine, or a transformers version it does not support); "
                "routes that work: `--model humansense_omni` (Qwen2.5-Omni, Qwen3-Omni) or `--model humansense_openai` (a served model)"
            )
        elif failed[0]["outcome"] == MEDIA_ERROR:
            cause = f"the model could not read the media; the first error: {first}"
        else:
            cause = (
                "its requests failed (an API that refuses the request, e.g. an audio part it does not accept, "
                f"or a server that is not reachable); the first error: {first}"
            )
        log.warning(
            "HumanSense task %s: %d of %d answers were empty and %d were not answered (request failed or media "
            "error) with `%s`: this task's accuracy measures the wrapper, not the model. Likely cause: %s.",
            outcomes[0].get("task", "?"),
            empty,
            len(outcomes),
            len(failed),
            wrapper,
            cause,
        )
    elif failed:
        log.warning(
            "HumanSense task %s: %d of %d questions could not be asked (left out of every denominator, counted as "
            "not_answered); the first error: %s",
            outcomes[0].get("task", "?"),
            len(failed),
            len(outcomes),
            first,
        )
    return len(failed)
