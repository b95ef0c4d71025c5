"""Shared helpers of the bench scripts: timing medians, the machine line, and one section of RESULTS.md.

Each bench script owns one ``## <name>`` section of ``bench/RESULTS.md`` and rewrites only that section,
so scripts can be re-run independently and in any order.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

__all__ = ["RESULTS", "machine", "median_rate", "write_section"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

_HEADER = """# kunb benchmark results

Every number comes from a script in `bench/` that measures kunb beside a naive baseline in the same run
and reports the ratio, so a busy machine shifts both sides alike. Each script rewrites only its own
section below (`.venv/bin/python bench/<name>.py`).
"""


def machine(packages: Iterable[str] = ("numpy", "pandas", "sortedcontainers")) -> str:
    """One line naming the CPU count, load, Python and the package versions that matter."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), load average {load} at start; {platform.system()} "
        f"{platform.release()}; CPython {platform.python_version()}; {versions}"
    )


def median_rate(run: Callable[[], int], runs: int) -> tuple[float, float, float]:
    """Call ``run`` (which returns how many operations it did) ``runs`` times; return the median,
    min and max rate in operations per second."""
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        ops = run()
        rates.append(ops / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


def fmt_rate(rate: float) -> str:
    """``1234567.0`` -> ``1.23 M``, ``45678`` -> ``45.7 k``."""
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f} k"
    return f"{rate:.0f}"


def write_section(name: str, body: str) -> None:
    """Replace (or add) the ``## name`` section of RESULTS.md with ``body``."""
    text = RESULTS.read_text() if RESULTS.exists() else _HEADER
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([Path(sys.executable).name, *sys.argv])
    section = f"## {name}\n\n_Measured {stamp} with `{command}`._\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")
