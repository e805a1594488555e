"""The README is a map: every page it links exists, and each command is in its table once."""

from __future__ import annotations

import re

from conftest import REPO

#: Pages other changes of this release add (linked from the README's map ahead of them).
ADDED_ELSEWHERE = {"docs/omni-models.md", "docs/served-models.md", "docs/wrappers.md", "docs/statistics.md"}


def test_every_linked_page_exists() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    links = {link.split("#")[0] for link in re.findall(r"\]\(([^)#][^)]*)\)", text) if "://" not in link}
    missing = sorted(link for link in links - ADDED_ELSEWHERE if not (REPO / link).exists())
    assert not missing, missing


def test_each_command_is_in_the_command_table_once() -> None:
    from lmms_humansense.cli import build_parser

    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `lmms-humansense ")]
    named = [row.split("`lmms-humansense ", 1)[1].split()[0].rstrip("`") for row in rows]
    (sub,) = [a for a in build_parser()._actions if a.dest == "command"]
    assert sorted(named) == sorted(sub.choices)


def test_no_figure_of_the_authors_machine() -> None:
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bhere on \d|per second here|this project's \d-core", text), page.name
