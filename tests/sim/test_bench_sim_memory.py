"""bench/sim_memory.py end to end on a tiny run: a kunb sim child is driven, sampled and reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("psutil")


@pytest.mark.slow
def test_sim_memory_smoke_drives_the_child_and_reports_its_rss() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "sim_memory.py"),
            "--minutes",
            "0.25",
            "--every",
            "5",
            "--no-write",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 0.")]
    assert len(rows) >= 3 and all(float(row.split("|")[2]) > 10 for row in rows)  # RSS MiB of a live child
    verdict = next(line for line in done.stdout.splitlines() if line.startswith("this tree:"))
    placed = int(verdict.split(" orders placed")[0].split(":")[1].replace(",", ""))
    assert placed > 20 and "faults" in verdict
