"""Comments and docstrings in kunb/ cite the repository's own documentation pages (docs/), and every
citation resolves: ``classic-protocol.md#order-book-sync`` names a page that exists and a section in it. The
research notes outside the repository are never cited (a reader of the code cannot open them)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
PAGES = {page.name: page for page in DOCS.rglob("*.md") if not page.name.startswith("_")}
OUTSIDE = re.compile(
    r"\b(kucoin-protocol|kucoin-uta|jupyter-notes|perf-baselines|peers|aesthetics|recording-notes)\.md\b"
)
CITATION = re.compile(r"\b([a-z][\w-]*\.md)(?:#([\w-]+))?")


def slug(heading: str) -> str:
    """GitHub's heading anchor (what MyST generates too): lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = page.read_text()
    found = {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}
    found |= set(re.findall(r"^\(([\w-]+)\)=$", text, re.M))  # MyST labels
    return found


def citations() -> list[tuple[str, int, str, str | None]]:
    out = []
    for path in sorted((ROOT / "kunb").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in CITATION.finditer(line):
                out.append((str(path.relative_to(ROOT)), number, match.group(1), match.group(2)))
    return out


def test_no_citation_of_notes_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {m.group(0)}"
        for path in sorted((ROOT / "kunb").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for m in OUTSIDE.finditer(line)
    ]
    assert found == []


def test_every_citation_names_a_reference_page_and_a_section_in_it() -> None:
    wrong = []
    cited = citations()
    for where, number, page, anchor in cited:
        if page in ("RESULTS.md", "README.md"):  # bench/RESULTS.md, a folder's README
            continue
        target = PAGES.get(page)
        if target is None:
            wrong.append(f"{where}:{number}: no page {page} under docs/")
        elif anchor is not None and anchor not in anchors(target):
            wrong.append(f"{where}:{number}: no section #{anchor} in {target.relative_to(ROOT)}")
    assert len(cited) > 50 and wrong == []


def test_the_check_sees_a_broken_anchor() -> None:
    page = REFERENCE / "classic-protocol.md"
    assert "order-book-sync" in anchors(page) and "no-such-section" not in anchors(page)
    assert slug("Ping and pong") == "ping-and-pong" and slug("Level-2 increments") == "level-2-increments"
