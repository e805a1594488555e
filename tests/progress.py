"""A line per test module as it finishes (``tests/test_x.py: 12 passed  [3/40 modules, 2m10s]``).

The suite takes minutes; pytest's ``-q`` prints only dots and, under xdist, no module names.  This
plugin counts each module's tests when they are collected (by the first xdist worker, or by pytest
itself without xdist) and writes a line in the controlling process when the last one is reported,
so ``make test`` shows which modules are done and how far the run is.  Loaded by ``conftest.py``.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

import pytest


class ModuleProgress:
    """Per-module counts of the tests still to report and of their outcomes."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.left: Counter[str] = Counter()
        self.outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self.modules = 0
        self.done = 0
        self.start = time.monotonic()
        self.counted = False

    def count(self, nodeids: list[str]) -> None:
        if self.counted:
            return
        self.counted = True
        self.left.update(nodeid.split("::", 1)[0] for nodeid in nodeids)
        self.modules = len(self.left)

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # after -k/-m deselection; under xdist the controller collects nothing and the workers' ids come below
        if session.items:
            self.count([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.count(list(ids))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        module = report.nodeid.split("::", 1)[0]
        if module not in self.left:
            return
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.outcomes[module][report.outcome] += 1
            self.left[module] -= 1
            if self.left[module] == 0:
                del self.left[module]
                self.done += 1
                self.write(module)

    def write(self, module: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.outcomes[module].items()))
        minutes, seconds = divmod(int(time.monotonic() - self.start), 60)
        if reporter._tw.width_of_current_line:  # after -q's dots
            reporter.write("\n")
        reporter.write_line(f"{module}: {counts}  [{self.done}/{self.modules} modules, {minutes}m{seconds:02d}s]")


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controlling process only
        config.pluginmanager.register(ModuleProgress(config), "humansense-module-progress")
