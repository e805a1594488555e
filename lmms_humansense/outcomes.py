"""What became of a question: answered, or one of the counted non-answers.

A broken wrapper must never pass for a bad model.  lmms-eval 0.7.3's chat wrappers turn every
exception of a model call into the answer ``""`` (``models/chat/_chat_base.py``, the ``try``
around ``_infer_one``), its ``openai`` / ``gemini`` wrappers turn a failed request into the text
``[LMMS_EVAL_REQUEST_FAILED after N retries] ...``, and the run still exits 0 with a results file.
So each answer gets one outcome, decided here and nowhere else:

* ``answered``: a real answer, scored (a reply the parser cannot read is a parse failure);
* ``empty``: nothing left after lmms-eval's strip; stays in ``acc``'s denominator, scores 0
  (``acc_official`` leaves it out, as the official scorer leaves out every empty answer);
* ``request_failed``: lmms-eval's request-failure text, or a model of this package saying the
  request failed; left out of every denominator;
* ``media_error``: a model of this package saying it could not read the question's media (its
  ``fed["error"]`` names the doc, the file and the fix); left out of every denominator.

Each task reports the counts (``empty``, ``not_answered``) and, when most of its answers are
empty or not answered, says so as the run ends, naming the wrapper and the likely cause.
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
    """The outcome of one answer and its error text (``None`` unless something failed).

    A fed record's own outcome wins: a model of this package knows why it has no answer better
    than its text can say.
    """
    if fed is not None and fed.get("outcome") in NOT_ANSWERED:
        return str(fed["outcome"]), str(fed.get("error") or "")
    text = response.strip()
    if text.startswith(MEDIA_ERROR_MARKER):
        return MEDIA_ERROR, text[len(MEDIA_ERROR_MARKER) :].strip()
    if text.startswith(REQUEST_FAILED_MARKER):
        return REQUEST_FAILED, text
    if not text:
        return EMPTY, None
    return ANSWERED, None


def outcome_item(outcome: str, error: str | None, clip: str, task: str) -> dict[str, Any]:
    """The per-sample entry the count metrics aggregate (no ``score``: lmms-eval computes no
    standard error of a count; the task code, because an aggregation is not told its task)."""
    item: dict[str, Any] = {"outcome": outcome, "clip": clip, "task": task}
    if error:
        item["error"] = error[:ERROR_CHARS]
    return item


def _outcomes(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [x for x in items if isinstance(x, dict) and "outcome" in x]


def count_empty(items: Iterable[Any]) -> int:
    """Leaf aggregation of ``empty``: how many answers were empty."""
    return sum(1 for x in _outcomes(items) if x["outcome"] == EMPTY)


def _cause(wrapper: str, empty: int, failed: list[dict[str, Any]]) -> str:
    if len(failed) >= empty:
        first = failed[0].get("error") or "(no error text)"
        if failed[0]["outcome"] == MEDIA_ERROR:
            return f"the model could not read the media; the first error: {first}"
        return (
            "its requests failed (an API that refuses the request, e.g. an audio part it does not accept, "
            f"or a server that is not reachable); the first error: {first}"
        )
    return (
        f"lmms-eval's chat wrappers answer an empty string when the model call raises (the log above holds "
        f"'Error in generating' with the traceback): `{wrapper}` most likely cannot run here (a device it "
        "hard-codes, e.g. CUDA on a CPU machine, or a transformers version it does not support); "
        "see docs/wrappers.md for the route that works (for Qwen2.5-Omni: `--model humansense_omni`)"
    )


def running_wrapper(args: Any = None) -> str:
    """The ``--model`` name of the run an aggregation is part of, for the end-of-run warning.

    The CLI hands its arguments to the aggregation (``args.model``).  ``simple_evaluate`` hands
    ``args=None`` (lmms-eval 0.7.3 sets ``task.args = cli_args``, ``evaluator.py``), and no hook
    is told the model; its own frame still holds the ``model`` it was called with (a registered
    name, or the model object, named by its class, as lmms-eval's results config names it), so
    the warning names the wrapper there too.
    """
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
    """Leaf aggregation of ``not_answered``: how many questions got no answer (request failed,
    media error); and, because lmms-eval calls it once per task after every answer is in (with the
    CLI's arguments as ``args``), the place to say loudly that a task's numbers are void."""
    outcomes = _outcomes(items)
    failed = [x for x in outcomes if x["outcome"] in NOT_ANSWERED]
    empty = sum(1 for x in outcomes if x["outcome"] == EMPTY)
    if outcomes and (empty + len(failed)) / len(outcomes) > MOSTLY:
        wrapper = running_wrapper(args)
        log.warning(
            "HumanSense task %s: %d of %d answers were empty and %d were not answered (request failed or media "
            "error) with `%s`: this task's accuracy measures the wrapper, not the model. Likely cause: %s.",
            outcomes[0].get("task", "?"),
            empty,
            len(outcomes),
            len(failed),
            wrapper,
            _cause(wrapper, empty, failed),
        )
    elif failed:
        log.warning(
            "HumanSense task %s: %d of %d questions could not be asked (left out of every denominator, counted as "
            "not_answered); the first error: %s",
            outcomes[0].get("task", "?"),
            len(failed),
            len(outcomes),
            failed[0].get("error") or "(no error text)",
        )
    return len(failed)
