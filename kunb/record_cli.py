"""``kunb record``: record market data (and an account) to a directory, headless, until told to stop.

::

    kunb record --symbols BTC-USDT,ETH-USDT --channels ticker,level2,trades,candles --out data/session
    KUCOIN_API_KEY=... KUCOIN_API_SECRET=... KUCOIN_API_PASSPHRASE=... \\
        kunb record --symbols BTC-USDT --channels level2,account --duration 3600

One :class:`kunb.Stream` (and, with the ``account`` channel, one :class:`kunb.Account`) records both
layers into one :class:`kunb.record.Recording` (``recording-and-replay.md``), written by a process of its
own (``--in-process``: by threads of this one). A progress line goes to
stderr every second (rewritten in place on a terminal, one line every ``--progress`` seconds otherwise).
SIGINT and SIGTERM stop it cleanly: the drivers close, the recording writes what is queued, converts and
compacts, and the command exits 0. A SIGKILL loses at most about a second (the next recorder on the
directory, or ``kunb.record.recover``, converts what the journals hold; the writer process, which outlives
a killed parent, closes what it was sent). Exit codes: 0 stopped cleanly,
1 the recording or a driver failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .account import Account
from .exceptions import ClosedError, ConfigurationError, KunbError
from .record.session import Recording
from .signing import Credentials
from .stream import Stream

__all__ = ["Plan", "add_arguments", "main", "plan", "run"]

_CHANNELS = {"ticker": "ticker", "level2": "book", "book": "book", "trades": "trades", "match": "trades"}
_WINDOW = 1_000  # rows the rolling frames keep: a headless recorder shows nothing, the recording keeps all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default="", help="the exchange's REST base URL (default: $KUNB_URL, else KuCoin)"
    )
    parser.add_argument("--symbols", default="", help="comma-separated symbols (BTC-USDT,ETH-USDT)")
    parser.add_argument(
        "--channels",
        default="ticker,level2,trades",
        help="comma-separated: ticker, level2, trades, candles[:INTERVAL] (1min), stats, account "
        "(private: credentials from KUCOIN_API_KEY, KUCOIN_API_SECRET, KUCOIN_API_PASSPHRASE)",
    )
    parser.add_argument("--protocol", choices=("classic", "uta"), default="classic")
    parser.add_argument("--ws-url", default=None, help="UTA: the public socket's host ($KUNB_UTA_URL)")
    parser.add_argument(
        "--private-ws-url", default=None, help="UTA: the private socket's host ($KUNB_UTA_PRIVATE_URL)"
    )
    parser.add_argument(
        "--out", default=None, help="the recording directory (default: ./recordings/<UTC start time>)"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument(
        "--flush-interval", type=float, default=1.0, help="seconds between flushes (the most a kill loses)"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="write on threads of this process instead of a writer process of its own (kunb.record.process)",
    )
    parser.add_argument(
        "--progress",
        type=float,
        default=10.0,
        help="seconds between progress lines when stderr is no terminal",
    )


@dataclass(frozen=True)
class Plan:
    """What a ``kunb record`` run records, from its arguments."""

    symbols: tuple[str, ...]
    book: bool
    ticker: bool
    trades: bool
    stats: bool
    candles: str | None
    account: bool
    out: Path


def plan(args: argparse.Namespace) -> Plan:
    """The run the arguments ask for.

    Raises:
        ConfigurationError: an unknown channel, no symbols for market channels, no channel at all.
    """
    wanted: set[str] = set()
    candles: str | None = None
    account = False
    for raw in (c.strip() for c in args.channels.split(",")):
        if not raw:
            continue
        name, _, interval = raw.replace("=", ":").partition(":")
        if name == "candles":
            candles = interval or "1min"
        elif name == "account":
            account = True
        elif name == "stats":
            wanted.add("stats")
        elif name in _CHANNELS:
            wanted.add(_CHANNELS[name])
        else:
            raise ConfigurationError(
                f"unknown channel {raw!r}: use ticker, level2, trades, candles[:INTERVAL], stats, account"
            )
    symbols = tuple(dict.fromkeys(s.strip() for s in args.symbols.split(",") if s.strip()))
    if (wanted or candles) and not symbols:
        raise ConfigurationError("market channels need --symbols (BTC-USDT,ETH-USDT)")
    if not (wanted or candles or account):
        raise ConfigurationError("nothing to record: give --channels")
    out = Path(args.out) if args.out else Path("recordings") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return Plan(
        symbols,
        "book" in wanted,
        "ticker" in wanted,
        "trades" in wanted,
        "stats" in wanted,
        candles,
        account,
        out,
    )


def _drivers(args: argparse.Namespace, what: Plan, recording: Recording) -> list[Stream | Account]:
    credentials = Credentials.from_env()
    uta = args.protocol == "uta"
    drivers: list[Stream | Account] = []
    if what.symbols and (what.book or what.ticker or what.trades or what.stats or what.candles):
        options: dict[str, Any] = {"ws_url": args.ws_url} if uta else {}
        if not uta or (credentials is not None and credentials.is_complete):
            options["credentials"] = credentials  # classic: the full (signed) book when there is a key
        drivers.append(
            Stream(
                what.symbols,
                url=args.url,
                protocol=args.protocol,
                book=what.book,
                ticker=what.ticker,
                trades=what.trades,
                stats=what.stats,
                candles=what.candles,
                window=_WINDOW,
                top_interval=None,
                open_timeout=None,  # keep dialing through a start-up outage; the progress line says why
                record_to=recording,
                **options,
            )
        )
    if what.account:
        extra: dict[str, Any] = {"ws_url": args.private_ws_url, "symbols": what.symbols} if uta else {}
        drivers.append(
            Account(
                credentials,
                url=args.url,
                protocol=args.protocol,
                window=_WINDOW,
                open_timeout=None,
                record_to=recording,
                **extra,
            )
        )
    return drivers


def _status(drivers: Sequence[Stream | Account]) -> str:
    parts = []
    for driver in drivers:
        if isinstance(driver, Stream):
            live = sum(1 for b in driver.books.values() if b.state.value == "live")
            books = f", books {live}/{len(driver.books)} live" if driver.books else ""
            parts.append(f"market {driver.link.value}{books}")
        else:
            parts.append(f"account {driver.state.value}")
    return "; ".join(parts)


async def _progress(
    recording: Recording,
    drivers: Sequence[Stream | Account],
    started: float,
    every: float,
    err: TextIO,
    stop: asyncio.Event,
) -> None:
    """A progress line every second (in place on a terminal, every ``every`` s otherwise); stops the run
    when the recording fails (a full disk...)."""
    tty = err.isatty()
    last_line = 0.0
    while True:
        await asyncio.sleep(1.0)  # a display cadence, not synchronisation
        now = time.monotonic()
        stats = recording.stats()
        line = f"kunb record: {now - started:,.0f} s, {stats.describe()}; {_status(drivers)}"
        if tty:
            err.write("\r\033[K" + line)
            err.flush()
        elif now - last_line >= every:
            last_line = now
            print(line, file=err, flush=True)
        if stats.error:
            stop.set()


async def _run_driver(driver: Stream | Account) -> None:
    """Start the driver, then wait until it closes by itself (a fatal error): raises why."""
    await driver.astart()
    with contextlib.suppress(ClosedError):
        await driver.wait_for(lambda _driver: False, None)
    raise driver.error or ClosedError(f"the {type(driver).__name__} closed")


async def _record(args: argparse.Namespace, what: Plan, err: TextIO) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # a writer process by default: the feed's interpreter only queues and ships (bench/RESULTS.md)
    recording = Recording(what.out, flush_interval=args.flush_interval, process=not args.in_process)
    status = 0
    drivers: list[Stream | Account] = []
    tasks: list[asyncio.Task[Any]] = []
    try:
        drivers = _drivers(args, what, recording)
        print(f"kunb record: recording to {what.out}", file=err, flush=True)
        started = time.monotonic()
        tasks = [loop.create_task(_run_driver(d), name="kunb-record-driver") for d in drivers]
        stopping = loop.create_task(stop.wait(), name="kunb-record-stop")
        progress = loop.create_task(_progress(recording, drivers, started, args.progress, err, stop))
        tasks += [stopping, progress]
        done, _ = await asyncio.wait(
            {stopping, *tasks[: len(drivers)]}, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done - {stopping}:
            error = task.exception()
            if error is not None:
                print(f"\nkunb record: {type(error).__name__}: {error}", file=err, flush=True)
                status = 1
        if recording.stats().error:
            print(f"\nkunb record: the recording failed: {recording.stats().error}", file=err, flush=True)
            status = 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for driver in drivers:
            await driver.aclose()
        try:
            await recording.aclose()
        except KunbError as exc:
            print(f"kunb record: closing the recording failed: {exc}", file=err, flush=True)
            status = 1
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print(f"\nkunb record: stopped; {recording.stats().describe()} in {what.out}", file=err, flush=True)
    return status


def run(args: argparse.Namespace) -> int:
    """Record until SIGINT/SIGTERM or ``--duration``; see the module docstring for exit codes."""
    err = sys.stderr
    try:
        what = plan(args)
        return asyncio.run(_record(args, what, err))
    except ConfigurationError as exc:
        print(f"kunb record: {exc}", file=err)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kunb record", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
