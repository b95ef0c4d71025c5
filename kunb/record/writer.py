"""The recorder: a sink of normalized events that writes them to a hive-partitioned Parquet dataset.

``recorder(event)`` runs on the event loop and only appends the event to a bounded queue. A writer
thread turns each flush interval's events into Arrow batches, one journal per table
(:mod:`kunb.record.files`); every rotation it seals the journals and a second thread
(:mod:`kunb.record.convert`) turns them into Parquet pieces and compacts closed hours into one file per
partition, so flushing never waits for compaction. A killed process loses at most the last flush
interval (plus one flush's work): the next recorder on the same directory (or
:func:`kunb.record.recover`) converts what the journals hold. Overflow of the queue is counted
(:attr:`Recorder.dropped`) and written as an ``integrity`` row.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..events import BookSnapshot, Event, Integrity
from ..exceptions import ConfigurationError, RecordingError
from .convert import Converter
from .files import JOURNAL_DIR, DirectoryLock, Journal
from .shadow import ShadowBooks
from .tables import SCHEMAS, TABLE_OF, Table, periodic_snapshot_batch, to_batch
from .worker import BackgroundWriter, WriterState, log

__all__ = ["Recorder", "RecorderStats"]

_HOUR_NS = 3_600_000_000_000
_BATCH_ROWS = 65_536  # convert a table's pending events early once this many are waiting


@dataclass(frozen=True)
class RecorderStats:
    """What a badge or a progress line shows about a :class:`Recorder`."""

    state: WriterState
    events: int  #: accepted from the feed
    written: int  #: events written to the journals
    dropped: int  #: refused: the queue was full (each batch of drops is an ``integrity`` row)
    queued: int
    files: int  #: Parquet files written (pieces and compacted hours)
    bytes: int  #: bytes of Parquet written plus the journals' current size
    rows: dict[str, int]  #: rows written per table
    error: str | None


class Recorder(BackgroundWriter):
    """Records normalized events (:mod:`kunb.events`) to ``out/<table>/date=.../symbol=.../*.parquet``.

    A sink: call it with every event (``recorder(event)``; cheap, on the event loop). Close it to write
    the rest and compact (``close()``, ``await aclose()``, or use it as a context manager).

    Args:
        out: the recording directory (created if missing). One recorder writes to a directory at a time.
        flush_interval: seconds between journal flushes: the most data a killed process loses.
        rotate_seconds: seconds between conversions of the journals to Parquet (what Spark or DuckDB see
            of a running recording lags by at most this much; :class:`kunb.record.Dataset` also reads the
            journals). ``None``: only at close, :meth:`checkpoint` or when a journal exceeds
            ``rotate_bytes`` (for offline imports).
        rotate_bytes: a journal larger than this is converted at the next flush.
        capacity: events of one type the queue holds; beyond it they are dropped and counted.
        snapshot_every: seconds (of exchange time) between the book snapshots the recorder writes from
            the deltas (``origin = 'recorder'``), so rebuilding a past book needs few deltas; ``None``:
            only the snapshots the feed delivered.
        clock: wall-clock time in ns (decides when an hour is closed); for tests.

    Raises:
        ConfigurationError: a bad argument, or another recorder is writing to ``out``.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        flush_interval: float = 1.0,
        rotate_seconds: float | None = 60.0,
        rotate_bytes: int = 256 << 20,
        capacity: int = 1_000_000,
        snapshot_every: float | None = 60.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(name="kunb-recorder", capacity=capacity, flush_interval=flush_interval)
        if rotate_seconds is not None and not rotate_seconds > 0:
            raise ConfigurationError(f"rotate_seconds must be positive or None, not {rotate_seconds}")
        if snapshot_every is not None and not snapshot_every > 0:
            raise ConfigurationError(f"snapshot_every must be positive or None, not {snapshot_every}")
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise ConfigurationError(f"{self.out} exists and is not a directory")
        self.rotate_seconds = rotate_seconds
        self.rotate_bytes = rotate_bytes
        self._clock = clock
        self._lock_file = DirectoryLock(self.out)
        if not self._lock_file.acquire():
            raise ConfigurationError(f"another recorder is writing to {self.out}")
        self._run_id = f"{clock():x}{os.getpid() % 65536:04x}"
        self._journal_count = 0
        self._journals: dict[Table, Journal] = {}
        self._pending: dict[Table, list[Any]] = {name: [] for name in SCHEMAS}
        self._shadow = ShadowBooks(int(snapshot_every * 1e9)) if snapshot_every else None
        self._periodic: list[BookSnapshot] = []
        self._last_rotation = time.monotonic()
        self._reported_drops = 0
        self._rows: dict[str, int] = dict.fromkeys(SCHEMAS, 0)
        self._written = 0
        self._table_of = TABLE_OF
        # one queue per event type: the sink call is a dict lookup, a length check and an append, and the
        # thread gets the events already grouped by table
        self._queues: dict[type, deque[Any]] = {kind: deque() for kind in TABLE_OF}
        self._drained = 0
        # conversion and compaction in a thread of their own: flushing never waits for them
        self._converter = Converter(self.out, self._run_id, clock, grace_ns=int((rotate_seconds or 0) * 1e9))
        self._start()

    # -- loop side ------------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        """Queue one event (O(1), no I/O). Unrecorded types raise :class:`TypeError` at once."""
        queue = self._queues.get(event.__class__)
        if queue is None:
            raise TypeError(f"the recorder does not record {event.__class__.__name__} events")
        size = len(queue)
        if size >= self.capacity or self._closing:
            self.dropped += 1
            return
        queue.append(event)
        if size >= self._wake_at:
            self._wake.set()

    @property
    def accepted(self) -> int:
        return self._drained + self.queued

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in list(self._queues.values()))

    def checkpoint(self, timeout: float | None = 120.0) -> None:
        """Block until everything queued is in Parquet (journals converted, closed hours compacted).

        Raises:
            RecordingError: writing failed, or it took longer than ``timeout``.
            ClosedError: the recorder was closed.
        """
        self._ask(rotate=True, timeout=timeout)

    def stats(self) -> RecorderStats:
        journal_bytes = sum(j.bytes for j in list(self._journals.values()))
        return RecorderStats(
            self.state,
            self.accepted,
            self._written,
            self.dropped,
            self.queued,
            self._converter.files,
            self._converter.bytes + journal_bytes,
            dict(self._rows),
            None if self.error is None else str(self.error),
        )

    def __repr__(self) -> str:
        return f"<Recorder {self.out} {self.state.value} events={self.accepted} dropped={self.dropped}>"

    # -- thread side ----------------------------------------------------------------------------
    def _drain(self) -> list[tuple[Table, list[Any]]]:
        drained = []
        for kind, queue in self._queues.items():
            if queue:
                pop = queue.popleft
                drained.append((self._table_of[kind], [pop() for _ in range(len(queue))]))
        return drained

    def _handle(self, items: list[tuple[Table, list[Any]]]) -> None:
        pending = self._pending
        for name, events in items:
            self._drained += len(events)
            pending[name].extend(events)
        shadow = self._shadow
        if shadow is not None:
            # per table the order is the feed's; across tables, a gap is noticed before the snapshot that
            # repairs it, and a snapshot before the deltas after it (the books check sequences anyway)
            drained = dict(items)
            for event in drained.get("integrity", ()):
                shadow.integrity(event)
            for event in drained.get("book_snapshots", ()):
                shadow.snapshot(event)
            for event in drained.get("book_deltas", ()):
                snap = shadow.delta(event)
                if snap is not None:
                    self._periodic.append(snap)
        for name, events in pending.items():
            if len(events) >= _BATCH_ROWS:
                self._write(name, events)
                pending[name] = []

    def _flush(self) -> None:
        drops = self.dropped
        if drops > self._reported_drops:
            lost = drops - self._reported_drops
            self._reported_drops = drops
            event = Integrity(
                "overflow", "", f"recorder queue full: {lost} events dropped", None, self._clock()
            )
            self._pending["integrity"].append(event)
            if self._shadow is not None:
                self._shadow.integrity(event)
        for name, events in self._pending.items():
            if events:
                self._write(name, events)
                self._pending[name] = []
        if self._periodic:
            self._write_batch("book_snapshots", periodic_snapshot_batch(self._periodic))
            self._periodic = []
        for journal in self._journals.values():
            journal.flush()

    def _write(self, name: Table, events: list[Any]) -> None:
        lossy: list[str] = []
        self._write_batch(name, to_batch(name, events, lossy))
        self._written += len(events)
        if lossy:
            detail = f"{name}: rounded to 18 decimals: " + ", ".join(lossy[:20])
            self._write_batch(
                "integrity", to_batch("integrity", [Integrity("rounded", "", detail, None, self._clock())])
            )

    def _write_batch(self, name: Table, batch: pa.RecordBatch) -> None:
        journal = self._journals.get(name)
        if journal is None:
            self._journal_count += 1
            path = self.out / JOURNAL_DIR / f"{name}.{self._run_id}-{self._journal_count:06d}.arrows"
            journal = self._journals[name] = Journal(path, SCHEMAS[name])
        journal.write(batch)
        self._rows[name] += batch.num_rows

    def _tick(self, *, rotate: bool) -> None:
        self._check_converter()
        every = self.rotate_seconds
        due = every is not None and time.monotonic() - self._last_rotation >= every
        big = any(j.bytes >= self.rotate_bytes for j in self._journals.values())
        if rotate or due or big:
            self._rotate()
        if rotate:  # checkpoint(): wait until it is all Parquet
            self._converter.settle()
            self._check_converter()

    def _rotate(self) -> None:
        """Seal the journals and hand them to the converter; the next batches start new journals."""
        self._last_rotation = time.monotonic()
        journals, self._journals = self._journals, {}
        for journal in journals.values():
            journal.close()
            sealed = journal.path.with_suffix(".converting")
            os.replace(journal.path, sealed)
            self._converter.convert(sealed)

    def _check_converter(self) -> None:
        error = self._converter.error
        if error is not None:
            raise RecordingError(f"converting journals to Parquet failed: {error}") from error

    def _finish(self) -> None:
        self._rotate()
        self._converter.settle(compact_all=True)
        self._converter.stop(timeout=None)
        self._check_converter()
        with contextlib.suppress(OSError):
            (self.out / JOURNAL_DIR).rmdir()  # only when empty
        self._lock_file.release()

    def _abort(self) -> None:
        for journal in self._journals.values():
            try:
                journal.flush()
                journal.close()
            except Exception:  # already failing; the journal stays for recover()
                log.debug("could not close %s", journal.path, exc_info=True)
        self._journals = {}
        self._converter.stop(timeout=60)  # the sealed journals it did not reach stay for recover()
        self._lock_file.release()
