"""`kunb sim` and `python -m kunb.sim`: URL line first, serves, stops on SIGTERM/SIGINT; the thread runner."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import kunb
import kunb.sim
from kunb.notebook.source import is_simulated
from kunb.signing import Credentials
from kunb.sim.exchange import ExchangeState
from kunb.sources.uta import uta_urls

KUNB_SCRIPT = Path(sys.executable).parent / "kunb"


def _start(args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(30, proc.kill)  # bound the wait for the first line
    timer.start()
    try:
        first = proc.stdout.readline().strip()
    finally:
        timer.cancel()
    return proc, first


@pytest.mark.parametrize(
    ("argv", "sig"),
    [
        ([sys.executable, "-m", "kunb.sim", "--symbols", "BTC-USDT,ETH-USDT", "--seed", "3"], signal.SIGTERM),
        ([sys.executable, "-m", "kunb.cli", "sim", "--port", "0", "--symbols", "BTC-USDT"], signal.SIGINT),
        pytest.param(
            [str(KUNB_SCRIPT), "sim", "--symbols", "ETH-USDT,BTC-USDT"],
            signal.SIGTERM,
            marks=pytest.mark.skipif(
                not KUNB_SCRIPT.exists(), reason="the kunb console script is not installed"
            ),
        ),
    ],
)
def test_cli_prints_url_serves_and_stops_with_exit_0(argv, sig):
    """First stdout line is KUNB_SIM_URL=http://127.0.0.1:PORT; the REST API answers; a signal exits 0."""
    proc, first = _start(argv)
    try:
        assert first.startswith("KUNB_SIM_URL=http://127.0.0.1:"), first
        url = first.split("=", 1)[1]
        r = httpx.get(f"{url}/api/v1/market/orderbook/level1", params={"symbol": "BTC-USDT"}, timeout=5)
        assert r.json()["code"] == "200000"
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_cli_bad_symbols_exit_2():
    """A malformed --symbols value is a clear error, exit code 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "kunb.sim", "--symbols", "not_a_pair"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 2 and "not BASE-QUOTE" in proc.stderr and "Traceback" not in proc.stderr


def test_thread_runner_start_stop():
    """kunb.sim.start() serves from its own thread; kunb.sim.stop() stops it and joins the thread."""
    handle = kunb.sim.start(symbols=["ETH-USDT"], tick_ms=50)
    try:
        assert handle.running and handle.url.startswith("http://127.0.0.1:")
        assert handle.exchange.state is ExchangeState.OPEN
        r = httpx.get(f"{handle.url}/api/v1/timestamp", timeout=5)
        assert r.json()["code"] == "200000"
    finally:
        kunb.sim.stop()
    assert not handle.running and handle.exchange.state is ExchangeState.CLOSED
    kunb.sim.stop()  # idempotent


def test_thread_runner_reports_start_errors():
    """A port already in use surfaces as OSError from kunb.sim.start(), and no thread is left behind."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        before = threading.active_count()
        with pytest.raises(OSError):
            kunb.sim.start(symbols=["BTC-USDT"], port=port)
        deadline = time.monotonic() + 5
        while threading.active_count() > before and time.monotonic() < deadline:
            threading.Event().wait(0.01)  # bounded poll for the runner thread to finish
        assert threading.active_count() == before


async def test_exchange_start_failure_leaves_nothing_open():
    """If the feed port is busy, start() raises OSError and releases the REST port it had bound."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        rest_port = probe.getsockname()[1]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ex = kunb.sim.Exchange(symbols=["BTC-USDT"], port=rest_port, ws_port=busy.getsockname()[1])
        with pytest.raises(OSError):
            await ex.start()
    with socket.socket() as again:  # plain bind (no SO_REUSEADDR): fails if the REST socket leaked
        again.bind(("127.0.0.1", rest_port))
    await ex.close()  # idempotent after a failed start


async def _uta_clients_live(creds: Credentials) -> None:
    stream = kunb.Stream("BTC-USDT", protocol="uta", stats=False)  # no url, no ws_url: the env's
    account = kunb.Account(creds, protocol="uta", symbols=["BTC-USDT"])
    try:
        await stream.astart()
        await account.astart()
        await stream.wait_live(10)
        await account.wait_live(10)
        assert account.balance("USDT", "unified") is not None
    finally:
        await stream.aclose()
        await account.aclose()


def test_cli_lines_point_kunbs_clients_at_it_and_label_its_data_simulated(monkeypatch) -> None:
    """Issue 15: after KUNB_SIM_URL come the UTA sockets, the demo key and the variables kunb's clients
    read (KUNB_URL, KUNB_SIMULATED, KUNB_UTA_URL, KUNB_UTA_PRIVATE_URL): a shell that sources the lines
    (``set -a; . ./sim.env``) points kunb at the exchange, classic and UTA, and panels call it simulated."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kunb.sim", "--symbols", "BTC-USDT", "--tick-ms", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    timer = threading.Timer(30, proc.kill)
    timer.start()
    try:
        lines = [proc.stdout.readline().strip() for _ in range(10)]
    finally:
        timer.cancel()
    try:
        env = dict(line.split("=", 1) for line in lines)
        assert list(env) == [
            "KUNB_SIM_URL", "KUNB_SIM_UTA_URL", "KUNB_SIM_UTA_PRIVATE_URL",
            "KUNB_SIM_KEY", "KUNB_SIM_SECRET", "KUNB_SIM_PASSPHRASE",
            "KUNB_URL", "KUNB_SIMULATED", "KUNB_UTA_URL", "KUNB_UTA_PRIVATE_URL",
        ]  # fmt: skip
        assert env["KUNB_URL"] == env["KUNB_SIM_URL"] and env["KUNB_SIMULATED"] == "1"
        assert (env["KUNB_UTA_URL"], env["KUNB_UTA_PRIVATE_URL"]) == (
            env["KUNB_SIM_UTA_URL"], env["KUNB_SIM_UTA_PRIVATE_URL"]
        )  # fmt: skip
        for name in ("KUNB_URL", "KUNB_SIMULATED", "KUNB_UTA_URL", "KUNB_UTA_PRIVATE_URL"):
            monkeypatch.setenv(name, env[name])
        assert is_simulated(env["KUNB_URL"])
        assert uta_urls() == (env["KUNB_SIM_UTA_URL"], env["KUNB_SIM_UTA_PRIVATE_URL"])
        creds = Credentials(env["KUNB_SIM_KEY"], env["KUNB_SIM_SECRET"], env["KUNB_SIM_PASSPHRASE"])
        asyncio.run(_uta_clients_live(creds))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
