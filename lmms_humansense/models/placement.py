"""Where a model of this package runs in a (possibly multi-process) lmms-eval launch.

``accelerate launch`` and ``torchrun`` start one process per device and describe it only through
the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).  lmms-eval 0.7.3 shards questions by the
model's ``rank``/``world_size`` and gathers per-rank counts on ``lm.device``, so every model must
know its place from its first line on: relying on lmms-eval injecting ``_rank`` after the model is
built, or on ``Accelerator()`` having picked the current CUDA device, works only by accident.  One
function decides it for every model here, so the rule is the same for all of them.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Placement:
    """This process's rank, the launch's size, its rank on this machine and its torch device."""

    rank: int
    world_size: int
    local_rank: int
    device: Any  # torch.device (torch is imported only when a model is built); with device_map=auto, the first
    device_map: str | None = None  # "auto": one process spreads the model over every visible GPU


def _leave_together() -> None:
    """At exit, wait for every rank, then close the process group, before the interpreter tears down.

    lmms-eval 0.7.3 starts a gloo group (evaluator.py ~1079) and never closes it.  A rank that is
    done first and exits while rank 0 still gathers and writes can die in gloo's teardown
    ("terminate called without an active exception", exit -6), and the launcher then stops rank 0
    before it writes the results (seen with torchrun on CPU).  Registered per model; after the
    first call the group is gone and later calls do nothing.
    """
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - leaving must never turn a finished run into a failed one
        pass


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"the launcher set {name}={raw!r}, which is not an integer; start the run with accelerate launch or "
            "torchrun, which set it, or unset it for a single-process run"
        ) from None
    if value < 0:
        raise ValueError(f"the launcher set {name}={value}; it must be 0 or more")
    return value


def placement(model: str, device: str | None = None, device_map: str | None = None) -> Placement:
    """Choose this process's device from the environment, honouring a ``device=`` model arg.

    No ``device`` (or ``auto``): ``cuda:<LOCAL_RANK>`` when CUDA is there, else the CPU.  ``cuda``
    means "this process's GPU", so it also becomes ``cuda:<LOCAL_RANK>``.  A device that names one
    GPU (``cuda:1``) in a launch of several processes would stack every process on that GPU, which
    is never what a data-parallel launch wants: that is refused, naming the fix.  ``cpu`` is fine
    for any number of processes.

    ``device_map=auto`` (one process, the model split over every visible GPU) is refused under a
    launch of several processes (each would spread its own copy over the same GPUs) and next to
    a ``device`` that names one device; ``device_map=<one device>`` is the same as ``device=``.
    """
    import torch

    if device_map is not None and str(device_map).strip().lower() not in ("", "none"):
        return _mapped(model, device, str(device_map).strip().lower())

    rank = _env_int("RANK", 0)
    world_size = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    if rank >= world_size:
        raise ValueError(f"the launcher set RANK={rank} with WORLD_SIZE={world_size}; RANK must be below WORLD_SIZE")
    if world_size > 1:
        atexit.register(_leave_together)
    asked = (device or "auto").strip().lower()
    if asked == "auto":
        asked = "cuda" if torch.cuda.is_available() else "cpu"
    if asked == "cpu":
        return Placement(rank, world_size, local_rank, torch.device("cpu"))
    if asked != "cuda":
        if world_size > 1:
            raise ValueError(
                f"{model}: device={device} would put all {world_size} processes of this launch on one device. "
                f"Leave device out (or say device=cuda): each process then runs on cuda:<LOCAL_RANK>; "
                "to pin processes to GPUs of your choice, set CUDA_VISIBLE_DEVICES for the launch instead."
            )
        return Placement(rank, world_size, local_rank, torch.device(asked))
    if not torch.cuda.is_available():
        raise ValueError(f"{model}: device={device or 'auto'} asks for CUDA, but torch sees no GPU; use device=cpu")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ValueError(
            f"{model}: this process has LOCAL_RANK={local_rank}, but only {count} GPU(s) are visible; "
            f"launch at most {count} processes per machine (--num_processes / --nproc_per_node)"
        )
    chosen = torch.device("cuda", local_rank)
    torch.cuda.set_device(chosen)  # collectives (NCCL) and bare .cuda() calls use this process's GPU
    return Placement(rank, world_size, local_rank, chosen)


def _mapped(model: str, device: str | None, device_map: str) -> Placement:
    """The placement of a ``device_map=`` model arg (see :func:`placement`)."""
    import torch

    world_size = _env_int("WORLD_SIZE", 1)
    asked = (device or "auto").strip().lower()
    if device_map != "auto":
        if asked != "auto" and torch.device(asked) != torch.device(device_map):
            raise ValueError(
                f"{model}: device={device} and device_map={device_map} name different devices; "
                f"give one of them (device={device_map}, or device_map=auto to spread the model over the visible GPUs)"
            )
        return placement(model, device_map)
    if world_size > 1:
        raise ValueError(
            f"{model}: device_map=auto spreads one copy of the model over every visible GPU, but this launch runs "
            f"{world_size} processes, each of which would do the same on the same GPUs. Run device_map=auto with plain "
            "`lmms-eval` (one process), or drop device_map for a data-parallel launch (one full copy per GPU)."
        )
    if asked != "auto":
        raise ValueError(
            f"{model}: device={device} puts the model on one device, device_map=auto spreads it over the visible GPUs; "
            "drop device= to spread it, or drop device_map= to keep it on one device"
        )
    if not torch.cuda.is_available():  # accelerate's "auto" then keeps everything on the CPU
        return Placement(0, 1, 0, torch.device("cpu"), "auto")
    return Placement(0, 1, 0, torch.device("cuda", 0), "auto")
