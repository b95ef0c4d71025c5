"""Chaos: books, tickers, trades and a private Account streamed through a seeded storm of every fault
kind kunb.sim has, with orders placed throughout (the engine is bench/chaos.py; its module docstring
lists the checks). ~10 s by default; ~60 s when slow tests run (``--runslow`` / ``CI=true``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kunb.sim.faults import FAULT_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
try:
    from chaos import KILLERS, ChaosReport, run_chaos
finally:
    sys.path.pop(0)


def check(report: ChaosReport) -> None:
    print("\n".join(report.lines()))
    assert set(report.faults) == set(FAULT_NAMES)  # every fault kind was injected
    assert report.killers >= sum(report.faults[k] for k in KILLERS) >= 4
    assert report.level2_holes >= 1 and report.malformed_sent >= 1
    assert report.book_checks > 100 and report.orders_placed > 10 and report.messages > 1000
    assert report.account_reseeds >= report.killers
    assert report.problems() == []


async def test_chaos_short() -> None:
    check(await run_chaos(5.0, seed=21, fault_gap=(0.1, 0.4)))


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_chaos_one_minute() -> None:
    report = await run_chaos(60.0, seed=5, fault_gap=(0.2, 1.2))
    check(report)
    assert sum(report.faults.values()) >= 30
    rss = report.rss_mb
    assert rss[-1] - rss[1] < 64, f"RSS grew {rss[1]:.0f} -> {rss[-1]:.0f} MB"  # after warm-up
