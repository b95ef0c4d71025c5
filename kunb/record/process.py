"""A recording written by a process of its own: the feed's interpreter only queues and ships.

Why: a :class:`~kunb.record.session.Recording`'s writer threads hold the GIL while they turn events into
Arrow batches and frames into JSON lines, and at a busy feed's rate that costs the event loop about as much
as the feed itself (``bench/RESULTS.md``, "Recording"). With ``Recording(out, process=True)`` the feed's
side is a :class:`Shipper`: the wire tap appends each read's frames to a bounded queue (one check and
one append per read, not per frame), and a thread serializes what queued every ``ship_interval`` in
batches of a few thousand frames (the records with :mod:`marshal`, several times cheaper than pickle for
tuples of strings, bytes and numbers, and safe here: the writer process runs the same interpreter) and
writes them to the writer process's standard input. The writer
process runs the same :class:`~kunb.record.raw.RawLog` and
:class:`~kunb.record.writer.Recorder`; it rebuilds the normalized events from the raw frames and REST
answers with the drivers' own decoders (:mod:`kunb.record.derive`), and writes the driver's
:class:`~kunb.events.Integrity` events (gaps, resyncs, outages, overflow...), which the sink forwards.

Lifecycle: the writer process is a fresh interpreter running this module (``python -m
kunb.record.process``; not a fork: safe beside threads and in a notebook, and nothing of the caller's
``__main__`` runs again, so scripts need no main guard). It opens the directory before the constructor
returns (an error there is raised here), reports on its standard output, ignores SIGINT (it has a session
of its own; the parent decides when to stop) and closes its files on SIGTERM, on :meth:`Shipper.close`,
and at the end of its input: a SIGKILLed parent loses only what it had not shipped yet (at most
``ship_interval``), and the writer process then closes what it holds. Overflow of the queue is counted
and written as ``overflow`` rows and lines, never silent; a writer process that dies puts the recording in
state ``failed``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import marshal
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: the pipe keeps its default size
    fcntl = None  # type: ignore[assignment]

from ..events import Event, Integrity
from ..exceptions import ConfigurationError, KunbError, RecordingError
from .derive import Deriver
from .raw import RawLog
from .stats import combined
from .worker import WriterState
from .writer import Recorder

__all__ = ["Shipper"]

log = logging.getLogger("kunb.record")

_RECV, _SENT, _REST, _OPEN, _CLOSE = "recv", "sent", "rest", "open", "close"
_START_TIMEOUT = 120.0  # seconds a writer process may take to start (it imports pyarrow on a busy machine)


class _Stop(Exception):
    """Raised in the writer process by SIGTERM: close the files and exit."""


class Shipper:
    """The feed's side of a writer process: a wire tap (:mod:`kunb.net.wire`) and a sink of events.

    Args:
        out: the recording directory.
        options: keyword arguments of the writers the process opens (``raw``, ``flush_interval``,
            ``rotate_seconds``, ``capacity``, ``snapshot_every``), and ``nice``: the writer process's
            ``os.nice`` increment (its priority below the feed's; default 0).
        capacity: frames received queued here at most; beyond it a read's frames are dropped and counted.
        ship_interval: seconds between two shipments (the most a SIGKILL of this process loses).

    Raises:
        ConfigurationError: another recorder writes to ``out`` (or a bad option).
        RecordingError: the writer process did not start.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        options: dict[str, Any],
        *,
        capacity: int = 1_000_000,
        ship_interval: float = 0.1,
    ) -> None:
        if capacity < 1:
            raise ConfigurationError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self.ship_interval = ship_interval
        self.dropped = 0  #: frames and records refused here (queue full, or the writer process gone)
        self.error: BaseException | None = None
        # a list, not a deque: the shipping thread takes a whole prefix with one slice and one delete
        # (each atomic under the GIL; appends racing it land after the prefix), not a popleft per record
        self._queue: list[tuple[Any, ...]] = []
        # frames queued = _taken - _shipped; each counter has one writer (the loop, the shipping thread),
        # so neither loses an update to the other
        self._taken = 0
        self._shipped = 0
        self._events: deque[Event] = deque()
        self._drops: dict[str, int] = {}
        self._closing = False
        self._state = WriterState.RUNNING
        self._stats: dict[str, Any] = {}
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[tuple[str, threading.Event]] = []
        self._replies: dict[str, threading.Event] = {}
        # kunb's own root first on the child's path: it imports the same kunb as this process
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "kunb.record.process", str(out), json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
            start_new_session=True,  # a terminal's Ctrl-C reaches the parent only
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._pipe: IO[bytes] = self._process.stdin
        _widen(self._pipe)
        self._reports: IO[bytes] = self._process.stdout
        self._await_start()
        self._thread = threading.Thread(target=self._run, name="kunb-record-ship", daemon=True)
        self._reader = threading.Thread(target=self._read, name="kunb-record-reports", daemon=True)
        self._thread.start()
        self._reader.start()

    def _await_start(self) -> None:
        first: list[Any] = []

        def wait() -> None:
            with contextlib.suppress(EOFError, OSError):
                first.append(_receive(self._reports)[0])

        waiter = threading.Thread(target=wait, name="kunb-record-start", daemon=True)
        waiter.start()
        waiter.join(_START_TIMEOUT)
        if waiter.is_alive():
            self._process.kill()
            self._process.wait()
            raise RecordingError(f"the writer process did not start within {_START_TIMEOUT:g} s")
        if not first:
            code = self._process.wait(10)
            raise RecordingError(f"the writer process ended at start (exit {code})")
        message = first[0]
        if message[0] == "error":
            self._process.wait(10)
            kind = ConfigurationError if message[1] == "ConfigurationError" else RecordingError
            raise kind(message[2])
        self._stats = message[1]

    # -- the feed's side: a wire tap and a sink (on the event loop; one check and one append) ------
    def received(self, connection: str, received_ns: int, frames: tuple[bytes | str, ...]) -> None:
        count = len(frames)
        if self._taken - self._shipped + count > self.capacity or self._closing:
            self._drop(connection, count)
            return
        self._queue.append((connection, received_ns, frames))  # the short form: a read's frames
        self._taken += count

    def sent(self, connection: str, sent_ns: int, frame: bytes | str) -> None:
        self._put((_SENT, connection, sent_ns, frame, None))

    def rest(
        self, connection: str, received_ns: int, method: str, url: str, status: int, body: bytes | str
    ) -> None:
        self._put((_REST, connection, received_ns, body, (method, url, status)))

    def opened(self, connection: str, ns: int, url: str) -> None:
        self._put((_OPEN, connection, ns, url, None))

    def closed(self, connection: str, ns: int, code: int | None = None, reason: str = "") -> None:
        self._put((_CLOSE, connection, ns, reason, code))

    def __call__(self, event: Event) -> None:
        """The sink: the driver's integrity events go to the writer process; the others it rebuilds from
        the raw frames."""
        if event.__class__ is Integrity and not self._closing:
            self._events.append(event)

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._taken - self._shipped >= self.capacity or self._closing:
            self._drop(item[1])
            return
        self._queue.append(item)

    def _drop(self, connection: str, count: int = 1) -> None:
        self.dropped += count
        self._drops[connection] = self._drops.get(connection, 0) + count

    # -- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> WriterState:
        return self._state

    @property
    def queued(self) -> int:
        """Frames received waiting here for the next shipment."""
        return self._taken - self._shipped

    def stats(self) -> dict[str, Any]:
        """The writer process's latest report (both layers), with this side's drops added."""
        stats = dict(self._stats)
        stats["dropped"] = stats.get("dropped", 0) + self.dropped
        if self.error is not None:
            stats["error"] = str(self.error)
        return stats

    # -- blocking controls ------------------------------------------------------------------------
    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until everything queued before the call is durable in the writer process's files.

        Raises:
            RecordingError: the writer process failed, or it took longer than ``timeout``.
        """
        self._ask("flush", timeout)

    def close(self, timeout: float | None = 60.0) -> None:
        """Ship what is queued, let the writer process close its files, and wait for it (idempotent).

        Raises:
            RecordingError: writing failed (in the writer process or on the pipe), or it did not end in
                ``timeout``.
        """
        if self._thread.is_alive() and not self._closing:
            self._ask("close", timeout)
        self._closing = True
        self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._pipe.close()  # the writer process ends at the end of its input, whatever happened
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise RecordingError(f"the writer process did not finish within {timeout} s") from None
        self._reader.join(timeout)
        self._reports.close()
        if self._state is WriterState.RUNNING:
            self._state = WriterState.CLOSED if self.error is None else WriterState.FAILED
        self._raise_if_failed()

    def _ask(self, what: str, timeout: float | None) -> None:
        self._raise_if_failed()
        if self._closing:
            if what == "close":
                return
            raise RecordingError("the recording is closed")
        done = threading.Event()
        with self._lock:
            self._requests.append((what, done))
        self._wake.set()
        if not done.wait(timeout):
            raise RecordingError(f"the writer process did not {what} within {timeout} s")
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise RecordingError(f"the writer process failed: {self.error}") from self.error

    # -- the shipping thread and the report reader ----------------------------------------------
    def _drain(self) -> tuple[list[tuple[Any, ...]], list[Event], dict[str, int]]:
        queue, events = self._queue, self._events
        pop_event = events.popleft
        count = len(queue)
        items = queue[:count]
        del queue[:count]
        self._shipped += _frames(items)
        forwarded = [pop_event() for _ in range(len(events))]
        drops, self._drops = self._drops, {}
        return items, forwarded, drops

    def _run(self) -> None:
        pipe = self._pipe
        try:
            while True:
                self._wake.wait(self.ship_interval)
                self._wake.clear()
                with self._lock:
                    requests, self._requests = self._requests, []
                items, events, drops = self._drain()
                if items or events or drops:
                    _ship(pipe, items, events, drops)
                for what, done in requests:
                    if what == "close":
                        self._closing = True
                        late = self._drain()  # put while closing was being set
                        if any(late):
                            _ship(pipe, *late)
                    arrived = self._replies["closed" if what == "close" else "flushed"] = threading.Event()
                    _send(pipe, (what,))
                    while not arrived.wait(0.5):  # the caller bounds the wait; this notices a dead process
                        if self._process.poll() is not None:
                            raise EOFError("the writer process ended")
                    done.set()
                    if what == "close":
                        self._state = WriterState.CLOSED if self.error is None else WriterState.FAILED
                        return
        except (OSError, EOFError, ValueError) as exc:  # the pipe broke: the writer process is gone
            self.error = RecordingError(f"the writer process ended (exit {self._process.poll()}): {exc}")
            self._state = WriterState.FAILED
            self._closing = True
            log.error("kunb recording: %s", self.error)
        finally:
            with self._lock:
                requests, self._requests = self._requests, []
            for _what, done in requests:
                done.set()
            unshipped = self._queue
            self.dropped += _frames(unshipped) + sum(len(item) != 3 for item in unshipped)  # counted
            self._queue.clear()

    def _read(self) -> None:
        """The writer process's reports: stats after each batch, the answers to flush and close."""
        with contextlib.suppress(EOFError, OSError, ValueError):
            while True:
                message, _ = _receive(self._reports)
                self._stats = message[1]
                if message[0] == "closed" and message[2]:
                    self.error = RecordingError(message[2])
                arrived = self._replies.get(message[0])
                if arrived is not None:
                    arrived.set()


def _frames(items: list[tuple[Any, ...]]) -> int:
    """The frames received in ``items`` (reads are ``(connection, ns, frames)``; the rest are 5-tuples)."""
    return sum([len(item[2]) for item in items if len(item) == 3])


def _widen(pipe: IO[bytes]) -> None:
    """Linux: a 1 MiB pipe (the default 64 KiB), so that a batch goes in at once instead of waking the
    writer process and waiting for it a dozen times. Elsewhere, or above the system's limit: as it is."""
    setsize: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)  # None on Windows (no fcntl) and macOS
    if setsize is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), setsize, 1 << 20)


_CHUNK_FRAMES = 2048  # frames per batch on the pipe at most (about half a MB of pushes)


def _ship(pipe: IO[bytes], items: list[tuple[Any, ...]], events: list[Event], drops: dict[str, int]) -> None:
    """A shipment as batches of at most ``_CHUNK_FRAMES`` frames (the driver's events and the drop counts
    with the last): the CPU a batch costs the feed grows faster than its size once its buffers no longer
    fit the allocator's reused memory (every big batch is fresh pages to fault in), several times per
    frame at 20,000 frames a batch against 2,000 (bench/RESULTS.md, "Recording")."""
    start = counted = 0
    for index, item in enumerate(items):
        counted += len(item[2]) if len(item) == 3 else 1
        if counted >= _CHUNK_FRAMES and index + 1 < len(items):
            _send(pipe, ("batch", [], {}), marshal.dumps(items[start : index + 1], 2))
            start, counted = index + 1, 0
    _send(pipe, ("batch", events, drops), marshal.dumps(items[start:], 2))


def _send(pipe: IO[bytes], message: Any, bulk: bytes = b"") -> None:
    """One message: a small pickled head and, for a batch, its records marshalled (tuples of str, int,
    bytes and None), written as they are rather than copied into the pickle. Marshal format 2: without
    the object-reference table of formats 3 and 4 (nothing here is shared but the connection names), a
    third less CPU per record."""
    head = pickle.dumps(message, protocol=5)
    pipe.write(len(head).to_bytes(8, "little") + len(bulk).to_bytes(8, "little") + head)
    if bulk:
        pipe.write(bulk)
    pipe.flush()


def _receive(pipe: IO[bytes]) -> tuple[Any, bytes]:
    """The next message and its bulk (``b""`` if it has none)."""
    sizes = pipe.read(16)
    if len(sizes) < 16:
        raise EOFError("the pipe ended")
    head_size, bulk_size = int.from_bytes(sizes[:8], "little"), int.from_bytes(sizes[8:], "little")
    data = pipe.read(head_size + bulk_size)
    if len(data) < head_size + bulk_size:
        raise EOFError("the pipe ended mid-message")
    return pickle.loads(data[:head_size]), data[head_size:]


# -- the writer process --------------------------------------------------------------------------------
class _Writers:
    """The writer process's recorder and raw log (what a thread-mode Recording opens)."""

    def __init__(self, out: str, options: dict[str, Any]) -> None:
        raw = options.pop("raw", True)
        capacity = options.get("capacity", 1_000_000)
        flush_interval = options.get("flush_interval", 1.0)
        self.recorder = Recorder(out, **options)
        try:
            self.raw = RawLog(out, flush_interval=flush_interval, capacity=capacity) if raw else None
        except BaseException:
            self.recorder.close()
            raise
        self.deriver = Deriver()

    def stats(self) -> dict[str, Any]:
        stats = combined(self.recorder.stats(), self.raw.stats() if self.raw is not None else None)
        return {
            "state": stats.state.value,
            "events": stats.events,
            "frames": stats.frames,
            "dropped": stats.dropped,
            "files": stats.files,
            "bytes": stats.bytes,
            "error": stats.error,
            "undecodable": self.deriver.undecodable,
        }

    def flush(self) -> None:
        self.recorder.flush()
        if self.raw is not None:
            self.raw.flush()

    def close(self) -> None:
        errors: list[RecordingError] = []
        for writer in (self.recorder, self.raw):
            if writer is None:
                continue
            try:
                writer.close()
            except RecordingError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _stop(_signum: int, _frame: Any) -> None:
    raise _Stop


def _writer_main(out: str, options: dict[str, Any]) -> int:
    """The writer process: writers fed from stdin until told to close, SIGTERM, or the end of the input;
    reports on stdout."""
    # A batch in flight is thousands of young tuples, dicts and events: at CPython's default threshold (a
    # young collection every 700 allocations) the collector walks them again and again; nothing the
    # writer makes forms cycles worth collecting sooner
    gc.set_threshold(100_000, 50, 100)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, _stop)
    nice = options.pop("nice", 0)
    if nice:
        # below the feed's priority: on a machine with no core free the feed keeps its CPU, and the
        # writer drains its input when the feed leaves some (the feed's queue bounds the backlog)
        with contextlib.suppress(OSError):
            os.nice(nice)
    # the reports get standard output to themselves: anything printed goes to standard error instead
    reports = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    source = sys.stdin.buffer
    try:
        writers = _Writers(out, options)
    except KunbError as exc:
        _send(reports, ("error", type(exc).__name__, str(exc)))
        return 2
    _send(reports, ("ready", writers.stats()))
    error: str | None = None
    try:
        _serve(source, reports, writers)
    except _Stop:
        pass
    finally:
        try:
            writers.close()
        except RecordingError as exc:
            error = str(exc)
        with contextlib.suppress(OSError, ValueError):
            _send(reports, ("closed", writers.stats(), error))
    return 0 if error is None else 1


def _per_frame(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The shipment's reads ``(connection, ns, frames)`` as one ``(connection, ns, frame)`` per frame (the
    raw log's short form), the other records as they are."""
    out: list[tuple[Any, ...]] = []
    for item in items:
        if len(item) == 3:
            connection, ns, frames = item
            out.extend([(connection, ns, frame) for frame in frames])
        else:
            out.append(item)
    return out


def _serve(source: IO[bytes], reports: IO[bytes], writers: _Writers) -> None:
    recorder, raw = writers.recorder, writers.raw
    frame, rest = writers.deriver.frame, writers.deriver.rest
    while True:
        try:
            message, bulk = _receive(source)
        except EOFError:
            return  # the parent is gone (or closed the pipe): close what we hold
        kind = message[0]
        if kind == "batch":
            _, events, drops = message
            items = _per_frame(marshal.loads(bulk))
            if raw is not None:
                raw.take(items)  # the raw log's queue takes the shipment's records as they are
            for item in items:
                if len(item) == 3:  # a frame received (connection, ns, frame): the bulk
                    for event in frame(item[2], item[1]):
                        recorder(event)
                elif item[0] == _REST:
                    _kind, _connection, ns, payload, (_method, url, status) = item
                    derived = rest(ns, url, status, payload)
                    if derived is not None:
                        recorder(derived)
            for event in events:
                recorder(event)
            for connection, count in drops.items():
                if raw is not None:
                    raw.lost(connection, count)
                detail = f"recording queue full: {count} records of {connection} dropped"
                recorder(Integrity("overflow", "", detail, None, time.time_ns()))
            _send(reports, ("stats", writers.stats()))
        elif kind == "flush":
            writers.flush()
            _send(reports, ("flushed", writers.stats()))
        elif kind == "close":
            return


if __name__ == "__main__":  # pragma: no cover - run by Shipper as its writer process
    sys.exit(_writer_main(sys.argv[1], json.loads(sys.argv[2])))
