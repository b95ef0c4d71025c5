"""The recorder's second thread: sealed journals to Parquet pieces, and closed hours compacted.

Conversion and compaction take time in proportion to the data (seconds for a busy minute), so they run
here, beside the writer thread, which keeps flushing the new journals meanwhile: what a kill loses stays
within one flush interval even while an hour is being compacted. This thread also repairs what a
previous, killed recorder left in the directory, without touching the running recorder's own journals.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from .files import absolute_hour, compact_hour, convert_journal, pending_pieces, repair
from .worker import log

__all__ = ["Converter"]

_HOUR_NS = 3_600_000_000_000


class _Barrier:
    __slots__ = ("compact_all", "done")

    def __init__(self, compact_all: bool) -> None:
        self.compact_all = compact_all
        self.done = threading.Event()


class Converter:
    """Converts sealed journals in order and compacts hours once closed (``grace_ns`` after their end).

    Args:
        out: the recording directory.
        run_id: the running recorder's journal id, whose journals the start-up repair leaves alone.
        clock: wall-clock time in ns.
        grace_ns: an hour is compacted this long after it ended (late events land meanwhile).
    """

    def __init__(self, out: Path, run_id: str, clock: Callable[[], int], grace_ns: int) -> None:
        self.out = out
        self.run_id = run_id
        self._clock = clock
        self.grace_ns = grace_ns
        self._queue: queue.Queue[Path | _Barrier | None] = queue.Queue()
        self._to_compact: set[tuple[Path, str]] = set()
        self.error: BaseException | None = None
        self.files = 0  #: Parquet files written (pieces and compacted hours)
        self.bytes = 0  #: their bytes
        self._thread = threading.Thread(target=self._run, name="kunb-recorder-convert", daemon=True)
        self._thread.start()

    def convert(self, sealed: Path) -> None:
        """Queue a sealed journal (``*.converting``) for conversion."""
        self._queue.put(sealed)

    def settle(self, *, compact_all: bool = False) -> None:
        """Block until everything queued before is converted (and, ``compact_all``, every hour with pieces
        is compacted, closed or not), or until the thread has died (see :attr:`error`)."""
        barrier = _Barrier(compact_all)
        self._queue.put(barrier)
        while not barrier.done.wait(0.5):
            if not self._thread.is_alive():
                return

    def stop(self, timeout: float | None) -> bool:
        """Finish what is queued and stop; false if it did not finish within ``timeout``."""
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            closed_before = (self._clock() - self.grace_ns) // _HOUR_NS
            repair(self.out, compact=True, before_hour=closed_before, exclude=self.run_id)
            self._to_compact.update(pending_pieces(self.out))
            while True:
                try:
                    item = self._queue.get(timeout=1.0)
                except queue.Empty:
                    self._compact(all_hours=False)
                    continue
                if item is None:
                    return
                if isinstance(item, _Barrier):
                    self._compact(all_hours=item.compact_all)
                    item.done.set()
                    continue
                pieces, written = convert_journal(self.out, item)
                self.files += len(pieces)
                self.bytes += written
                self._to_compact.update((p.path.parent, p.path.name[:2]) for p in pieces)
                if self._queue.empty():
                    self._compact(all_hours=False)
        except BaseException as exc:  # the writer thread reports it (state failed, close() raises)
            self.error = exc
            log.error("kunb-recorder-convert failed: %s", exc)
            while True:  # release whoever waits on a barrier
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Barrier):
                    item.done.set()

    def _compact(self, *, all_hours: bool) -> None:
        closed_before = (self._clock() - self.grace_ns) // _HOUR_NS
        merged = False
        for folder, hour in sorted(self._to_compact):
            if all_hours or absolute_hour(folder, hour) < closed_before:
                self._to_compact.discard((folder, hour))
                result = compact_hour(folder, hour)
                if result is not None:
                    self.files += 1
                    self.bytes += result[1]
                    merged = True
        if merged:
            release_memory()


def release_memory() -> None:
    """Give the memory of a compaction back to the system.

    Compacting an hour reads all its pieces into Arrow tables; Arrow's allocator (mimalloc or jemalloc)
    keeps what they freed for reuse, so a long recording's RSS would stay at the largest hour's size
    between compactions (+22 MiB at the first hour boundary of a 30-minute soak: bench/RESULTS.md).
    """
    pa.default_memory_pool().release_unused()
