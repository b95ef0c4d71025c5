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


def test_readme_links_the_documentation_after_the_commands_and_its_links_resolve() -> None:
    """The documentation site is one click from the README, right after the two commands; every link to
    a file of the repository points at one that exists."""
    text = (ROOT / "README.md").read_text()
    after_commands = text.split("```", 4)[-1]
    assert "](docs/index.md)" in after_commands.split("\n## ")[0]  # before the first section
    local = [link for link in re.findall(r"\]\(([^)\s#]+)", text) if "://" not in link]
    assert "docs/howto/errors.md" in local
    assert [link for link in local if not (ROOT / link).exists()] == []
