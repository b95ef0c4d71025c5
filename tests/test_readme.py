"""The README's first lines are the two fresh-machine commands, and CI runs the second verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)][:2]


def test_readme_starts_with_two_commands() -> None:
    """Install+demo first, then tests; nothing but a title line and one sentence before them."""
    commands = _readme_commands()
    assert len(commands) == 2
    assert "kunb demo" in commands[0]
    assert "pytest" in commands[1]
    head = (ROOT / "README.md").read_text().split("```sh")[0]
    assert len([line for line in head.splitlines() if line.strip()]) <= 2


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci
