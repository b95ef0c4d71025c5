"""``kunb sim`` / ``python -m kunb.sim``: run the embedded exchange until SIGINT or SIGTERM.

The first line of stdout is ``KUNB_SIM_URL=http://127.0.0.1:PORT`` (flushed), followed by the other
lines of ``exchange.env`` (the UTA sockets, the demo user's key, and ``KUNB_URL``, ``KUNB_SIMULATED``,
``KUNB_UTA_URL``, ``KUNB_UTA_PRIVATE_URL`` for kunb's clients); then the process serves until it is told
to stop and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from kunb.exceptions import ConfigurationError
from kunb.sim.exchange import Exchange
from kunb.sim.replay import ReplayExchange

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=0, help="REST port (default 0: any free port)")
    parser.add_argument(
        "--ws-port", type=int, default=0, help="WebSocket feed port (default 0: any free port)"
    )
    parser.add_argument(
        "--uta-port", type=int, default=0, help="UTA public socket port (default 0: any free)"
    )
    parser.add_argument(
        "--uta-private-port", type=int, default=0, help="UTA private socket port (default 0: any free port)"
    )
    parser.add_argument(
        "--symbols",
        default=None,
        help="comma-separated pairs (BTC-USDT,ETH-USDT) or a count (2000); default: the realistic set",
    )
    parser.add_argument("--seed", type=int, default=0, help="market seed (same seed, same market)")
    parser.add_argument("--tick-ms", type=int, default=100, help="market step and push period in ms")
    parser.add_argument("--rate", type=float, default=1.0, help="multiplier of synthetic events per second")
    parser.add_argument(
        "--history", type=float, default=0.0, metavar="SECONDS", help="simulated past trading run at start-up"
    )
    parser.add_argument("--admin", action="store_true", help="enable POST /admin/faults/{name} (loopback)")
    parser.add_argument(
        "--firehose",
        type=int,
        nargs="?",
        const=1000,
        default=0,
        metavar="BATCH",
        help="benchmark mode: level2 pushes as fast as subscribers read them (batch per round, default 1000)",
    )
    parser.add_argument(
        "--replay",
        metavar="DIR",
        default=None,
        help="serve a kunb recording (its raw layer) instead of the synthetic market (kunb.sim.replay)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="with --replay: times the recorded pace")


def _symbols(text: str | None) -> int | list[str] | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    return [s.strip() for s in text.split(",") if s.strip()]


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.replay is not None:
        await _serve_replay(args, stop)
        return
    async with Exchange(
        seed=args.seed,
        symbols=_symbols(args.symbols),
        host=args.host,
        port=args.port,
        ws_port=args.ws_port,
        uta_port=args.uta_port,
        uta_private_port=args.uta_private_port,
        tick_ms=args.tick_ms,
        rate=args.rate,
        history_s=args.history,
        admin=args.admin,
        firehose=args.firehose,
    ) as ex:
        lines = [f"KUNB_SIM_URL={ex.url}"] + [f"{k}={v}" for k, v in ex.env.items() if k != "KUNB_SIM_URL"]
        print("\n".join(lines), flush=True)
        await stop.wait()


async def _serve_replay(args: argparse.Namespace, stop: asyncio.Event) -> None:
    """``--replay DIR``: the same first line (``KUNB_SIM_URL=...``), the feed's socket, then the variables
    kunb's clients read (a replay is not the live market: its data are labelled simulated, as the synthetic
    market's are); no UTA sockets or demo key (the recording is served over the classic protocol)."""
    async with ReplayExchange(
        args.replay, speed=args.speed, host=args.host, port=args.port, ws_port=args.ws_port
    ) as ex:
        lines = [
            f"KUNB_SIM_URL={ex.url}",
            f"KUNB_SIM_WS_URL={ex.ws_url}",
            f"KUNB_URL={ex.url}",
            "KUNB_SIMULATED=1",
        ]
        print("\n".join(lines), flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 2 on a bad argument."""
    try:
        asyncio.run(_serve(args))
    except ConfigurationError as exc:
        print(f"kunb sim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # port in use, bad host
        print(f"kunb sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kunb.sim", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
