"""How much disk ``pip install .`` and ``pip install ".[models]"`` take, from what is installed.

Read from the installed packages' metadata, in the environment that runs this script (one where
the package is installed with its ``models`` extra): the dependency closure of the package's plain
requirements, the closure with the ``models`` extra added, and the installed size of each package
as its ``RECORD`` file lists it (the wheel's files, before Python writes ``__pycache__``). Only
packages installed here count; their versions are the ones installed here, which need not be the
ones pip picks on another machine. Nothing is downloaded.

Run: ``python benchmarks/install_size.py``
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

GB = 1e9


def installed() -> dict[str, md.Distribution]:
    """Every installed distribution by canonical name (the first one on ``sys.path`` wins, as for imports)."""
    found: dict[str, md.Distribution] = {}
    for dist in md.distributions():
        found.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    return found


def closure(requirements: list[str], dists: dict[str, md.Distribution]) -> set[str]:
    """The installed packages ``requirements`` pull in, transitively, extras and markers applied."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(Requirement(r), frozenset[str]()) for r in requirements]
    while todo:
        req, parent_extras = todo.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in parent_extras or {""}):
            continue
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if name not in dists or key in seen:
            continue
        seen.add(key)
        todo += [(Requirement(r), frozenset(req.extras)) for r in dists[name].requires or []]
    return {name for name, _ in seen}


def installed_size(dist: md.Distribution) -> int:
    """Bytes of the files ``RECORD`` lists (the file's own size where RECORD gives none)."""
    total = 0
    for file in dist.files or []:
        if file.size is not None:
            total += int(file.size)
        elif os.path.isfile(path := dist.locate_file(file)):
            total += os.path.getsize(path)
    return total


def main() -> int:
    dists = installed()
    own = dists[canonicalize_name("lmms_humansense")]
    plain = [r for r in own.requires or [] if "extra ==" not in r]
    models = [r.split(";")[0] for r in own.requires or [] if 'extra == "models"' in r]
    base = closure(plain, dists)
    added = closure(plain + models, dists) - base
    size = {name: installed_size(dists[name]) for name in base | added}
    cuda = {n for n in base if n.startswith("nvidia-") or n == "triton"}
    print(f"Python {platform.python_version()}, {platform.machine()}, {sys.platform}")
    print(f"pip install .            : {len(base)} packages, {sum(size[n] for n in base) / GB:.2f} GB")
    print(f"  of it torch {dists['torch'].version if 'torch' in dists else '-'}: {size.get('torch', 0) / GB:.2f} GB,")
    print(f"  nvidia-* and triton ({len(cuda)} packages): {sum(size[n] for n in cuda) / GB:.2f} GB")
    print(f'pip install ".[models]" adds {len(added)} packages, {sum(size[n] for n in added) / GB:.2f} GB:')
    for name in sorted(added, key=lambda n: -size[n]):
        print(f"  {name} {dists[name].version}: {size[name] / 1e6:.1f} MB")
    total = sum(size.values())
    print(f'pip install ".[models]"  : {len(base | added)} packages, {total / GB:.2f} GB')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
