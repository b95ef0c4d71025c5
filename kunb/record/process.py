"""A recording written by a process of its own: the feed's interpreter only writes frames to a pipe.

Why: a :class:`~kunb.record.session.Recording`'s writer threads hold the GIL while they turn events into
Arrow batches and frames into JSON lines, and at a busy feed's rate that costs the event loop about as much
as the feed itself (``bench/RESULTS.md``, "Recording"). With ``Recording(out, process=True)`` the feed's
side is a :class:`Shipper`, a wire tap that writes each socket read to the writer process's standard
input right there, in one ``writev``: a small binary head (receive time, connection, frame sizes) and the
frames as they are. Nothing is copied in Python and nothing outlives the call: an earlier design queued
the reads' tuples for a thread to serialize, and the feed paid for it in cache misses and allocator
traffic (the other thread reading and freeing objects the loop had just made: about 1 us per push against
0.4 now, ``bench/RESULTS.md``). The pipe is non-blocking; when it is full, a message waits in a bounded
backlog that a shipping thread writes out, in order. The shipping thread also carries the driver's
:class:`~kunb.events.Integrity` events (gaps, resyncs, outages, overflow...), the drop counts and the
flush and close requests. The writer process reads its pipe on a thread of its own as fast as it comes
(so the pipe stays empty and its backlog waits there, bounded too), runs the same
:class:`~kunb.record.raw.RawLog` and :class:`~kunb.record.writer.Recorder`, and rebuilds the normalized
events from the raw frames and REST answers with the drivers' own decoders (:mod:`kunb.record.derive`).

Lifecycle: the writer process is a fresh interpreter running this module (``python -m
kunb.record.process``; not a fork: safe beside threads and in a notebook, and nothing of the caller's
``__main__`` runs again, so scripts need no main guard). It opens the directory before the constructor
returns (an error there is raised here), reports on its standard output, ignores SIGINT (it has a session
of its own; the parent decides when to stop) and closes its files on SIGTERM, on :meth:`Shipper.close`,
and at the end of its input: a SIGKILLed parent loses only what waited in its backlog (nothing unless
the pipe was full), and the writer process then writes and closes what it holds. Overflow of either
backlog is counted and written as ``overflow`` rows and lines, never silent; a writer process that dies
puts the recording in state ``failed``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from array import array
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
from .raw import RawLog, _as_bytes
from .stats import combined
from .worker import WriterState
from .writer import Recorder

__all__ = ["Shipper"]

log = logging.getLogger("kunb.record")

_SENT, _REST, _OPEN, _CLOSE = "sent", "rest", "open", "close"
_REPORT_INTERVAL = 0.1  # seconds between two stats reports of the writer process at most
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
        capacity: frames received waiting here at most (while the pipe is full); beyond it a read's
            frames are dropped and counted. The writer process bounds its own backlog the same way.
        ship_interval: seconds between two looks of the shipping thread at what waits here (events,
            drop counts, a full pipe's backlog).

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
        self.dropped = 0  #: frames and records refused here (backlog full, or the writer process gone)
        self.error: BaseException | None = None
        # What waits for the pipe (it was full, or the platform writes pipes blocking): whole messages
        # as (frames, records, bytes): the frames of a read, the records a drop of it loses (a read's
        # frames, 1 for a sent frame or a REST answer, 0 for the shipping thread's own messages); the
        # loop appends, the shipping thread pops. _partial: the message the shipping thread has begun
        # writing (nothing else may go on the pipe until it is done).
        self._backlog: deque[tuple[int, int, bytes]] = deque()
        self._partial: tuple[int, int, memoryview] | None = None
        # one writer on the pipe at a time: the loop only tries the lock (it never waits for it)
        self._writing = threading.Lock()
        self._taken = 0  # frames put in the backlog (the loop)
        self._shipped = 0  # frames of the backlog written (the shipping thread)
        self._names: dict[str, bytes] = {}
        self._events: deque[Event] = deque()
        self._drops: dict[str, int] = {}
        self._reported = 0  # drops shipped to the writer process, which counts them from then on
        self._closing = False
        self._broken: OSError | None = None
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
        self._fd = self._pipe.fileno()
        _widen(self._fd)
        self._direct = _nonblocking(self._fd)
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

    # -- the feed's side: a wire tap and a sink (on the event loop; never waits) ------------------
    def received(self, connection: str, received_ns: int, frames: tuple[bytes | str, ...]) -> None:
        """A socket read's frames, written to the pipe right here in one ``writev`` (the frames as they
        are, a small binary head before them): no copy of them, no object kept past the call, nothing
        for another thread to walk. When the pipe is full the message waits in the backlog."""
        count = len(frames)
        if self._closing or self._taken - self._shipped + count > self.capacity:
            self._drop(connection, count)
            return
        name = self._names.get(connection)
        if name is None:
            name = self._names[connection] = connection.encode()
        try:
            sizes = array("I", map(len, frames))
            head = _READ.pack(received_ns, count, len(name)) + name + sizes.tobytes()
            bulk = sum(sizes)
            parts: list[Any] = [_HEADER.pack(len(head) | _BINARY, bulk), head, *frames]
            self._write(parts, _HEADER.size + len(head) + bulk, count, connection)
        except TypeError:  # a text frame (str): as UTF-8, as the raw layer keeps it
            self.received(connection, received_ns, tuple(_as_bytes(frame) for frame in frames))

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
        if self._closing or self._taken - self._shipped >= self.capacity:
            self._drop(item[1])
            return
        parts = _message(("record", item))
        self._write(parts, sum(map(len, parts)), 0, item[1])

    def _write(self, parts: list[Any], size: int, frames: int, connection: str) -> None:
        """One message onto the pipe now if nothing waits before it and the pipe takes it; the rest of
        it (or all of it) into the backlog for the shipping thread, in order."""
        if self._direct and self._writing.acquire(False):
            try:
                if not self._backlog and self._partial is None:
                    try:
                        written = os.writev(self._fd, parts)
                    except BlockingIOError:
                        written = 0
                    except OSError as exc:  # the writer process is gone: counted; the thread reports it
                        self._drop(connection, frames or 1)
                        self._closing = True
                        self._broken = exc
                        self._wake.set()
                        return
                    if written == size:
                        return
                    # a part-written message goes first: nothing else was waiting, and the lock is held
                    self._backlog.append((frames, frames or 1, b"".join(parts)[written:]))
                    self._taken += frames
                    self._wake.set()
                    return
            finally:
                self._writing.release()
        self._backlog.append((frames, frames or 1, b"".join(parts)))
        self._taken += frames
        self._wake.set()

    def _drop(self, connection: str, count: int = 1) -> None:
        self.dropped += count
        self._drops[connection] = self._drops.get(connection, 0) + count

    # -- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> WriterState:
        return self._state

    @property
    def queued(self) -> int:
        """Frames received not written yet: waiting here for the pipe, and in the writer process (as of
        its latest report)."""
        return self._taken - self._shipped + int(self._stats.get("pending", 0))

    def stats(self) -> dict[str, Any]:
        """The writer process's latest report (both layers), with this side's drops added."""
        stats = dict(self._stats)
        # the writer process counts the drops shipped to it (as overflow records); these it has not had
        stats["dropped"] = stats.get("dropped", 0) + self.dropped - self._reported
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
        self._wake.set()
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
            if self._broken is not None:  # the shipping thread turns a broken pipe into the error
                self._thread.join(timeout)
                self._raise_if_failed()
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
    def _queue_message(self, message: Any) -> None:
        """A message of the shipping thread's own, behind everything the loop has sent or queued."""
        self._backlog.append((0, 0, b"".join(_message(message))))

    def _ship_events(self) -> None:
        events = self._events
        forwarded = [events.popleft() for _ in range(len(events))]
        drops, self._drops = self._drops, {}
        if forwarded or drops:
            self._queue_message(("events", forwarded, drops))
            self._reported += sum(drops.values())

    def _drain(self) -> None:
        """Write the backlog out (waiting for the pipe as long as it takes; the writer process reads it
        as fast as it comes, so a full pipe means that process is gone or stopped)."""
        fd = self._fd
        while self._backlog or self._partial is not None:
            with self._writing:
                while True:
                    if self._partial is None:
                        if not self._backlog:
                            break
                        frames, records, data = self._backlog.popleft()
                        self._partial = (frames, records, memoryview(data))
                    frames, records, rest = self._partial
                    try:
                        written = os.write(fd, rest)
                    except BlockingIOError:
                        break
                    if written < len(rest):
                        self._partial = (frames, records, rest[written:])
                        continue
                    self._partial = None
                    self._shipped += frames
            if self._partial is not None:  # the pipe is full: wait until it takes more
                _writable(fd, 0.5)
                if self._process.poll() is not None:
                    raise EOFError("the writer process ended")

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(self.ship_interval)
                self._wake.clear()
                with self._lock:
                    requests, self._requests = self._requests, []
                self._ship_events()
                self._drain()
                for what, done in requests:
                    if what == "close":
                        self._closing = True
                        self._ship_events()  # put while closing was being set
                    arrived = self._replies["closed" if what == "close" else "flushed"] = threading.Event()
                    self._queue_message((what,))
                    self._drain()
                    while not arrived.wait(0.5):  # the caller bounds the wait; this notices a dead process
                        if self._process.poll() is not None:
                            raise EOFError("the writer process ended")
                    done.set()
                    if what == "close":
                        self._state = WriterState.CLOSED if self.error is None else WriterState.FAILED
                        return
                if self._broken is not None:  # a write of the loop's found the pipe broken
                    raise self._broken
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
            with self._writing:  # what never reached the writer process: counted, not silent
                unsent = ([self._partial] if self._partial is not None else []) + list(self._backlog)
                self._backlog.clear()
                self._partial = None
            self.dropped += sum(records for _, records, _ in unsent)

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


# -- the pipe ----------------------------------------------------------------------------------------
# A message: a 16-byte header (head size, bulk size; little-endian u64 each), the head, the bulk. The head
# is pickled, except for a socket read's (the head size's top bit set): ns (u64), frames (u32), the
# connection name's length (u16), the name, each frame's size (u32 each); the bulk is the frames.
_HEADER = struct.Struct("<QQ")
_READ = struct.Struct("<QIH")
_BINARY = 1 << 63


def _message(message: Any, bulk: bytes = b"") -> list[bytes]:
    head = pickle.dumps(message, protocol=5)
    return [_HEADER.pack(len(head), len(bulk)), head, bulk]


def _widen(fd: int) -> None:
    """Linux: a 1 MiB pipe (the default 64 KiB): room for a burst while the writer process is busy
    elsewhere. Elsewhere, or above the system's limit: as it is."""
    setsize: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)  # None on Windows (no fcntl) and macOS
    if setsize is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setsize, 1 << 20)


def _nonblocking(fd: int) -> bool:
    """POSIX: the pipe in non-blocking mode, so that the loop writes a read itself and never waits.
    Elsewhere (Windows pipes block) the shipping thread writes everything."""
    if os.name != "posix":
        return False
    os.set_blocking(fd, False)
    return True


def _writable(fd: int, timeout: float) -> None:
    with contextlib.suppress(OSError, ValueError):
        select.select([], [fd], [], timeout)


def _send(pipe: IO[bytes], message: Any, bulk: bytes = b"") -> None:
    """One message on a blocking pipe (the writer process's reports)."""
    for part in _message(message, bulk):
        if part:
            pipe.write(part)
    pipe.flush()


def _receive(pipe: IO[bytes]) -> tuple[Any, bytes]:
    """The next message and its bulk (``b""`` if it has none); a socket read's head comes as
    ``("read", head)``, not unpickled."""
    sizes = pipe.read(16)
    if len(sizes) < 16:
        raise EOFError("the pipe ended")
    head_size, bulk_size = _HEADER.unpack(sizes)
    binary = head_size & _BINARY
    head_size &= ~_BINARY
    data = pipe.read(head_size + bulk_size)
    if len(data) < head_size + bulk_size:
        raise EOFError("the pipe ended mid-message")
    if binary:
        return ("read", data[:head_size]), data[head_size:]
    return pickle.loads(data[:head_size]), data[head_size:]


def _read_connection(head: bytes) -> str:
    """The connection a socket read's head names."""
    return head[_READ.size : _READ.size + _READ.unpack_from(head)[2]].decode()


def _read_items(head: bytes, bulk: bytes) -> list[tuple[str, int, bytes]]:
    """A socket read's message as the raw log's short records ``(connection, ns, frame)``."""
    ns, _frames, length = _READ.unpack_from(head)
    connection = head[_READ.size : _READ.size + length].decode()
    sizes = array("I")
    sizes.frombytes(head[_READ.size + length :])
    items: list[tuple[str, int, bytes]] = []
    at = 0
    for size in sizes:
        items.append((connection, ns, bulk[at : at + size]))
        at += size
    return items


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
        self.inbox: _Inbox | None = None
        self.lost = 0  #: records dropped before they reached this process's writers (either queue full)

    def stats(self) -> dict[str, Any]:
        stats = combined(self.recorder.stats(), self.raw.stats() if self.raw is not None else None)
        return {
            "state": stats.state.value,
            "events": stats.events,
            "frames": stats.frames,
            # the raw log counts the drops it is told of; without it they are counted here
            "dropped": stats.dropped + (self.lost if self.raw is None else 0),
            "files": stats.files,
            "bytes": stats.bytes,
            "error": stats.error,
            "undecodable": self.deriver.undecodable,
            "pending": self.inbox.pending if self.inbox is not None else 0,
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
        _serve(source, reports, writers, options.get("capacity", 1_000_000))
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


class _Inbox:
    """The writer process's input, read by a thread of its own as fast as it comes: the pipe stays
    empty, so the feed's writes never find it full while this process is busy deriving tables (the
    backlog waits here, bounded by ``capacity`` frames; beyond it a read's frames are dropped and
    counted, as on the feed's side)."""

    def __init__(self, source: IO[bytes], capacity: int) -> None:
        self.capacity = capacity
        self.pending = 0  #: frames read and not yet taken
        self.drops: dict[str, int] = {}
        self._source = source
        self._messages: deque[tuple[Any, bytes]] = deque()
        self._ready = threading.Condition()
        self._ended = False
        threading.Thread(target=self._run, name="kunb-record-inbox", daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                message, bulk = _receive(self._source)
                with self._ready:
                    if message[0] == "read":
                        count = _READ.unpack_from(message[1])[1]
                        if self.pending + count > self.capacity:
                            name = _read_connection(message[1])
                            self.drops[name] = self.drops.get(name, 0) + count
                            continue
                        self.pending += count
                    self._messages.append((message, bulk))
                    self._ready.notify()
        except (EOFError, OSError, ValueError):
            pass
        finally:
            with self._ready:
                self._ended = True
                self._ready.notify()

    def take(self) -> list[tuple[Any, bytes]] | None:
        """Every message read so far (waiting for one); ``None`` at the end of the input."""
        with self._ready:
            while not self._messages and not self._ended:
                self._ready.wait()
            if not self._messages:
                return None
            taken = list(self._messages)
            self._messages.clear()
            return taken

    def taken(self, frames: int) -> None:
        with self._ready:
            self.pending -= frames

    def lost(self) -> dict[str, int]:
        with self._ready:
            drops, self.drops = self.drops, {}
            return drops


def _serve(source: IO[bytes], reports: IO[bytes], writers: _Writers, capacity: int) -> None:
    recorder = writers.recorder
    frame, rest = writers.deriver.frame, writers.deriver.rest
    inbox = _Inbox(source, capacity)
    writers.inbox = inbox
    reported = 0.0
    while True:
        messages = inbox.take()
        if messages is None:
            return  # the parent is gone (or closed the pipe): close what we hold
        items: list[tuple[Any, ...]] = []
        frames = 0
        for message, bulk in messages:
            kind = message[0]
            if kind == "read":
                batch = _read_items(message[1], bulk)
                items.extend(batch)
                frames += len(batch)
            elif kind == "record":
                items.append(message[1])
            else:  # events, flush or close: what came before it is written first
                _write(items, writers, frame, rest)
                inbox.taken(frames)
                items, frames = [], 0
                if kind == "events":
                    for event in message[1]:
                        recorder(event)
                    _lost(message[2], writers)
                elif kind == "flush":
                    _lost(inbox.lost(), writers)
                    writers.flush()
                    _send(reports, ("flushed", writers.stats()))
                elif kind == "close":
                    _lost(inbox.lost(), writers)
                    return
        _write(items, writers, frame, rest)
        inbox.taken(frames)
        _lost(inbox.lost(), writers)
        now = time.monotonic()
        if now - reported >= _REPORT_INTERVAL:
            reported = now
            _send(reports, ("stats", writers.stats()))


def _write(items: list[tuple[Any, ...]], writers: _Writers, frame: Any, rest: Any) -> None:
    """Both layers of a run of records: the raw log takes them as they are; the tables get the events the
    drivers' decoders make of the frames and REST answers."""
    if not items:
        return
    if writers.raw is not None:
        writers.raw.take(items)
    recorder = writers.recorder
    for item in items:
        if len(item) == 3:  # a frame received (connection, ns, frame): the bulk
            for event in frame(item[2], item[1]):
                recorder(event)
        elif item[0] == _REST:
            _kind, _connection, ns, payload, (_method, url, status) = item
            derived = rest(ns, url, status, payload)
            if derived is not None:
                recorder(derived)


def _lost(drops: dict[str, int], writers: _Writers) -> None:
    for connection, count in drops.items():
        writers.lost += count
        if writers.raw is not None:
            writers.raw.lost(connection, count)
        detail = f"recording queue full: {count} records of {connection} dropped"
        writers.recorder(Integrity("overflow", "", detail, None, time.time_ns()))


if __name__ == "__main__":  # pragma: no cover - run by Shipper as its writer process
    code = _writer_main(sys.argv[1], json.loads(sys.argv[2]))
    sys.stderr.flush()
    # no interpreter shutdown: the inbox thread may sit in a read of the pipe (the parent closes its end
    # only after the last report), and finalizing under it aborts the process
    os._exit(code)
