"""Test helper run as a child process: records synthetic events until it is killed.

Usage: ``python recorder_child.py OUT FLUSH_INTERVAL ROTATE_SECONDS FIRST_SEQUENCE``. Prints ``ready`` once
the recorder is open; every event's exchange time is the wall clock when it was made, so the newest row
on disk tells how much a kill lost.
"""

from __future__ import annotations

import sys
import time

from kunb.events import BookDelta, Tick, Trade
from kunb.record import Recorder


def main() -> None:
    out, flush, rotate, first = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    recorder = Recorder(out, flush_interval=flush, rotate_seconds=rotate, snapshot_every=None)
    print("ready", flush=True)
    sequence = first
    while True:
        for _ in range(20):
            now = time.time_ns()
            sequence += 1
            for symbol in ("BTC-USDT", "ETH-USDT"):
                recorder(Tick(symbol, now, now, sequence, 100.0, 1.0, 99.0, 2.0, 101.0, 3.0))
                recorder(BookDelta(symbol, now, now, sequence, sequence, ((99.0, 2.0, sequence),), ()))
            recorder(Trade("BTC-USDT", now, now, sequence, str(sequence), "buy", 100.0, 0.1))
        time.sleep(0.002)  # about 10,000 events/s: a busy feed, with time left for the writer thread


if __name__ == "__main__":
    main()
