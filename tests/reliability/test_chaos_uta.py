"""Chaos over UTA: the same storm as ``test_chaos.py`` (every fault kind kunb.sim has, orders placed
throughout over classic REST) with the Stream and the Account speaking KuCoin's UTA protocol to the
exchange's UTA sockets (engine: bench/chaos.py, ``protocol="uta"``). The same end checks: every book
equals the exchange's top 500 at the same sequence, every order and balance the Account holds equals
REST's, gaps >= deltas dropped, reconnects >= link-killing faults, bad frames == malformed frames sent,
tasks and sockets back to where they started. ~10 s by default; ~60 s when slow tests run.
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
    assert report.killers >= sum(report.faults[k] for k in KILLERS) >= 5
    assert report.level2_holes >= 1 and report.malformed_sent >= 1
    assert report.book_checks > 100 and report.orders_placed > 10 and report.messages > 1000
    assert report.account_reseeds >= report.killers
    assert report.problems() == []


async def test_chaos_uta_short() -> None:
    check(await run_chaos(5.0, seed=23, fault_gap=(0.1, 0.4), protocol="uta"))


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_chaos_uta_one_minute() -> None:
    report = await run_chaos(60.0, seed=9, fault_gap=(0.2, 1.2), protocol="uta")
    check(report)
    assert sum(report.faults.values()) >= 30
    rss = report.rss_mb
    assert rss[-1] - rss[1] < 64, f"RSS grew {rss[1]:.0f} -> {rss[-1]:.0f} MB"  # after warm-up
