"""One rule for every model of this package: an unknown ``--model_args`` key stops the run by name.

lmms-eval 0.7.3 builds a model as ``cls(**parse(model_args), batch_size=..., max_batch_size=...,
device=...)`` (``lmms.create_from_arg_string``, the last three only when set, ``batch_size`` always
from the CLI).  A model that takes ``**kwargs`` to absorb those would also absorb a misspelt key
(``sede=1`` runs with seed 0), and a ``TypeError``/``ValueError`` raised from ``__init__`` is caught
by lmms-eval's CLI, printed inside a traceback, and the process exits 0.  :class:`ModelArgsStop` is a
``SystemExit``, like :class:`lmms_humansense.hooks.DataLoadStop`: the process exits 1 and Python
prints the message alone.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["INJECTED", "ModelArgValueStop", "ModelArgsStop", "check_model_args", "constructor_args"]

#: The keys lmms-eval itself adds to every model's arguments (``evaluator.simple_evaluate``):
#: a model that has no use for them must still accept them.
INJECTED = ("batch_size", "max_batch_size", "device")


class ModelArgsStop(SystemExit):
    """A ``--model_args`` mistake ending the run before any question is asked (exit status 1)."""

    def __init__(self, model: str, unknown: list[str], accepted: list[str]) -> None:
        parts = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1)
            parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        super().__init__(
            f"HumanSense model error: {model} does not take --model_args {', '.join(parts)}; "
            f"it takes {', '.join(accepted)}"
        )
        self.model, self.unknown, self.accepted = model, unknown, accepted


class ModelArgValueStop(SystemExit):
    """A ``--model_args`` value a model cannot run with (``frames=r1``, ``batch_size=0``), ending the
    run before any question is asked: exit status 1, the message alone (see the module notes)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"HumanSense model error: {message}")


def constructor_args(cls: type) -> list[str]:
    """The keyword arguments a model class's ``__init__`` names, in order: what ``--model_args`` may
    set, read from the signature so no list is kept by hand beside it."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]


def check_model_args(model: str, extra: Mapping[str, Any], accepted: Iterable[str]) -> None:
    """Stop the run when ``extra`` (a model's ``**kwargs``) holds a key the model does not take.

    ``accepted`` lists the model's own keyword arguments (what the message offers as the fix);
    lmms-eval's :data:`INJECTED` keys in ``extra`` are let through, since lmms-eval passes them to
    every model whatever the user wrote.
    """
    own = list(accepted)
    unknown = sorted(key for key in extra if key not in own and key not in INJECTED)
    if unknown:
        raise ModelArgsStop(model, unknown, own)
