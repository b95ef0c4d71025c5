"""The raw layer: every frame received and sent, and every REST answer, as zstd-compressed JSON lines.

Exact replay reads this layer, so it keeps the frames as they came (text frames as strings, binary ones in
base64) with the local receive time in ns, one file per connection and rotation:
``out/raw/date=YYYY-MM-DD/<connection>.<run>-<n>.jsonl.zst``. An open file is a hidden ``.*.tmp`` that is
renamed when closed; it is flushed as a zstd block every flush interval, so a killed process leaves a
readable prefix that :func:`recover_raw` turns into a closed file.

One JSON object per line, ``t`` (ns) and ``k`` (kind) always present::

    {"t": ..., "k": "file", "connection": "public-1", "version": 1}      first line of every file
    {"t": ..., "k": "open", "u": "wss://...?token=***"}                   connected
    {"t": ..., "k": "recv", "d": "<frame text>"}  (binary: "b64" instead of "d")
    {"t": ..., "k": "sent", "d": "<frame text>"}
    {"t": ..., "k": "rest", "m": "GET", "u": "https://...", "s": 200, "d": "<body>"}
    {"t": ..., "k": "close", "code": 1000, "reason": "..."}
    {"t": ..., "k": "overflow", "n": 12}                                   frames this file is missing

Secrets never reach the disk: ``token=`` and other credential query parameters in URLs, and JSON fields
named like a credential (``token``, ``sign``, ``signature``, ``passphrase``, ``secret``, ``key`` and the
``KC-API-*`` names, as in the UTA ``op:auth`` frame and the bullet answers) are replaced by ``***``.
The loop side only queues; encoding, redaction and compression run on the writer thread.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import heapq
import io
import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson
import zstandard

from ..exceptions import ConfigurationError, RecordingError
from ..signing import redact_token
from .files import DirectoryLock
from .worker import BackgroundWriter, WriterState

__all__ = [
    "RawLog",
    "RawStats",
    "raw_files",
    "read_raw",
    "read_recording",
    "recover_raw",
    "redact_json",
    "redact_url",
]

RAW_DIR = "raw"
VERSION = 1
_REDACTED = "***"
_SECRET_NAMES = frozenset(
    {
        "token",
        "sign",
        "signature",
        "passphrase",
        "secret",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "kc-api-key",
        "kc-api-sign",
        "kc-api-passphrase",
        "kc-api-secret",
    }
)
# Cheap prefilter (on the writer thread): only text that mentions one of these (any case) is parsed and
# redacted. Lower-casing and substring tests: a case-insensitive regex alternation costs ~100x more.
_SECRET_WORDS = (b"key", b"sign", b"token", b"secret", b"passphrase")


def _may_hold_secret(data: bytes) -> bool:
    low = data.lower()
    return any(word in low for word in _SECRET_WORDS)


# A data frame of a public ``/market/...`` topic (classic-protocol.md#public-channels; the private ones are
# ``/spotMarket/...`` and ``/account/...``, classic-protocol.md#private-channels): the exchange sends its
# bytes to every subscriber alike, so it cannot hold one user's credentials. KuCoin writes ``type`` first;
# a frame written otherwise is scanned, as is every other public topic (rare next to these).
_PUBLIC_MARKET = b'{"type":"message","topic":"/market/'


def _suspects(frames: list[bytes]) -> set[int]:
    """Indices of the frames that mention a credential-like word in any case: one lower-cased scan per
    word of the batch's frames that could hold one (public market data cannot, and it is nearly all of a
    busy recording: scanning it cost about a microsecond per frame), then the offsets mapped back."""
    public = _PUBLIC_MARKET
    checked = [index for index, frame in enumerate(frames) if not frame.startswith(public)]
    if not checked:
        return set()
    scanned = [frames[index] for index in checked]
    low = b"\n".join(scanned).lower()
    hits: set[int] = set()
    starts: list[int] | None = None
    for word in _SECRET_WORDS:
        at = low.find(word)
        while at >= 0:
            if starts is None:
                starts = list(itertools.accumulate((len(f) + 1 for f in scanned), initial=0))
            hits.add(checked[bisect.bisect_right(starts, at) - 1])
            at = low.find(word, at + 1)
    return hits


_SUFFIX = ".jsonl.zst"

# queue items: (connection, ns, frame) for a frame received (the hot path's short form), else
# (kind, connection, ns, payload, extra)
_RECV, _SENT, _REST, _OPEN, _CLOSE = "recv", "sent", "rest", "open", "close"


def redact_url(url: str) -> str:
    """``url`` with the values of credential query parameters (``token``, ``sign``...) replaced."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name.lower() in _SECRET_NAMES for name, _ in pairs):
        return url
    query = urlencode([(n, _REDACTED if n.lower() in _SECRET_NAMES else v) for n, v in pairs], safe="*")
    return urlunsplit(parts._replace(query=query))


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (_REDACTED if isinstance(k, str) and k.lower() in _SECRET_NAMES else _redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and "token=" in value:
        return redact_token(value)
    return value


def redact_json(text: str | bytes) -> str:
    """A JSON text with every credential-named field's value replaced; text that is not JSON but mentions
    a credential is replaced whole (it cannot be cleaned field by field)."""
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if not _may_hold_secret(raw):
        return raw.decode("utf-8", "replace")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "<not JSON; removed because it may hold a credential>"
    return orjson.dumps(_redact(value)).decode()


@dataclass(frozen=True)
class RawStats:
    """What a progress line shows about a :class:`RawLog`."""

    state: WriterState
    records: int
    dropped: int
    queued: int
    files: int  #: closed files
    bytes: int  #: compressed bytes written (closed and open files)
    raw_bytes: int  #: the JSON lines before compression
    error: str | None


class _File:
    """One connection's open ``.tmp`` file: a zstd stream flushed block by block."""

    def __init__(self, path: Path, level: int, header: bytes) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
        self._zstd = zstandard.ZstdCompressor(level=level).stream_writer(self._file, closefd=False)
        self.raw_bytes = 0
        self.write(header)

    def write(self, line: bytes) -> None:
        self._zstd.write(line)
        self.raw_bytes += len(line)

    def flush(self) -> int:
        self._zstd.flush(zstandard.FLUSH_BLOCK)
        self._file.flush()
        return self._file.tell()

    def close(self) -> int:
        self._zstd.flush(zstandard.FLUSH_FRAME)
        self._zstd.close()
        size = self._file.tell()
        self._file.close()
        os.replace(self.tmp, self.path)
        return size


class RawLog(BackgroundWriter):
    """Writes raw frames per connection (see the module docstring). Call its methods on the event loop.

    Args:
        out: the recording directory; files go to ``out/raw/``.
        flush_interval: seconds between flushes (the most a killed process loses).
        rotate_seconds: each connection's file is closed and a new one started this often.
        capacity: records the queue holds; beyond it records are dropped, counted, and an ``overflow``
            line is written to the connection's file.
        level: zstd compression level (1: zstd's fastest standard level; on these JSON lines, flushed every
            second, it compresses about as well as 3 for less CPU: ``bench/RESULTS.md``).

    Raises:
        ConfigurationError: a bad argument, or another raw log is writing to ``out``.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        flush_interval: float = 1.0,
        rotate_seconds: float = 3600.0,
        capacity: int = 1_000_000,
        level: int = 1,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(name="kunb-raw-log", capacity=capacity, flush_interval=flush_interval)
        if not rotate_seconds > 0:
            raise ConfigurationError(f"rotate_seconds must be positive, not {rotate_seconds}")
        self.root = Path(out) / RAW_DIR
        self.rotate_ns = int(rotate_seconds * 1e9)
        self.level = level
        self._clock = clock
        self._lock_file = DirectoryLock(self.root)
        if not self._lock_file.acquire():
            raise ConfigurationError(f"another raw log is writing to {self.root}")
        self._run_id = f"{clock():x}{os.getpid() % 65536:04x}"
        self._count = 0
        self._files: dict[str, tuple[_File, int]] = {}  # connection -> (file, opened at ns)
        self._drops: dict[str, int] = {}
        self._closed_files = 0
        self._closed_bytes = 0
        self._closed_raw = 0
        self._open_bytes: dict[str, int] = {}
        self._records = 0
        self._start()

    # -- loop side ------------------------------------------------------------------------------
    def received(self, connection: str, received_ns: int, frames: tuple[bytes | str, ...]) -> None:
        """The frames one read took from the connection at ``received_ns`` (local clock). The hot path:
        one length check and one extend (the base class's ``_put``, inlined); beyond the capacity the
        rest of the read is dropped and counted."""
        queue = self._queue
        size = len(queue)
        free = 0 if self._closing else self.capacity - size
        if len(frames) > free:
            kept = frames[: max(free, 0)]
            self._drop(connection, len(frames) - len(kept))
            frames = kept
        queue.extend([(connection, received_ns, frame) for frame in frames])  # the short form
        self._accepted += len(frames)
        if size >= self._wake_at:
            self._wake.set()

    def take(self, records: list[tuple[Any, ...]]) -> None:
        """Many records at once, in the queue's own forms: ``(connection, ns, frame)`` for a frame
        received, ``(kind, connection, ns, payload, extra)`` for the rest (what a writer process's feed
        ships, :mod:`kunb.record.process`). Beyond the capacity, the rest are dropped and counted."""
        queue = self._queue
        free = 0 if self._closing else max(0, self.capacity - len(queue))
        if free < len(records):
            for record in records[free:]:
                self._drop(record[0] if len(record) == 3 else record[1])
            records = records[:free]
        queue.extend(records)
        self._accepted += len(records)
        if len(queue) >= self._wake_at:
            self._wake.set()

    def sent(self, connection: str, sent_ns: int, frame: bytes | str) -> None:
        """A frame written to the connection (credentials in it are removed before writing)."""
        self._queue_item((_SENT, connection, sent_ns, frame, None))

    def rest(
        self, connection: str, received_ns: int, method: str, url: str, status: int, body: bytes | str
    ) -> None:
        """A REST answer (snapshot, token, account list...) that the connection's data depends on."""
        self._queue_item((_REST, connection, received_ns, body, (method, url, status)))

    def opened(self, connection: str, ns: int, url: str) -> None:
        self._queue_item((_OPEN, connection, ns, url, None))

    def closed(self, connection: str, ns: int, code: int | None = None, reason: str = "") -> None:
        self._queue_item((_CLOSE, connection, ns, reason, code))

    def _queue_item(self, item: tuple[Any, ...]) -> None:
        before = self.dropped
        self._put(item)
        if self.dropped != before:  # the rare path: remember which connection lost a record
            self._drops[item[1]] = self._drops.get(item[1], 0) + 1

    def _drop(self, connection: str, count: int = 1) -> None:
        self.dropped += count
        self._drops[connection] = self._drops.get(connection, 0) + count

    def lost(self, connection: str, count: int) -> None:
        """``count`` records of ``connection`` were lost before they reached this log (a writer process's
        feeding queue overflowed): counted, and written as an ``overflow`` line at the next flush."""
        self.dropped += count
        self._drops[connection] = self._drops.get(connection, 0) + count

    def stats(self) -> RawStats:
        open_files = list(self._files.values())
        return RawStats(
            self.state,
            self._records,
            self.dropped,
            self.queued,
            self._closed_files,
            self._closed_bytes + sum(self._open_bytes.values()),
            self._closed_raw + sum(f.raw_bytes for f, _ in open_files),
            None if self.error is None else str(self.error),
        )

    def __repr__(self) -> str:
        return f"<RawLog {self.root} {self.state.value} records={self.accepted} dropped={self.dropped}>"

    # -- thread side ----------------------------------------------------------------------------
    def _begin(self) -> None:
        recover_raw(self.root.parent, lock=False)

    def _file(self, connection: str, ns: int) -> _File:
        entry = self._files.get(connection)
        if entry is not None:
            return entry[0]
        self._count += 1
        day = time.strftime("%Y-%m-%d", time.gmtime(ns / 1e9))
        name = f"{quote(connection, safe='-_')}.{self._run_id}-{self._count:06d}{_SUFFIX}"
        header = {"t": ns, "k": "file", "connection": connection, "version": VERSION}
        try:
            handle = _File(self.root / f"date={day}" / name, self.level, orjson.dumps(header) + b"\n")
        except OSError as exc:
            raise RecordingError(f"cannot open a raw file in {self.root}: {exc}") from exc
        self._files[connection] = (handle, self._clock())
        return handle

    def _handle(self, items: list[Any]) -> None:
        # Lines are gathered per connection and handed to each file's compressor once per batch: a zstd
        # write per line costs more than building the line. Frames are looked at for secrets all at once
        # (one scan of the batch); only those that mention a credential-like word are parsed and redacted.
        dumps = orjson.dumps
        frames = [
            (item[2] if item[2].__class__ is bytes else _as_bytes(item[2]))
            if len(item) == 3
            else (item[3] if item[3].__class__ is bytes else _as_bytes(item[3]))
            for item in items
        ]
        suspects = _suspects(frames)
        lines: dict[str, list[bytes]] = {}
        first_ns: dict[str, int] = {}
        extra: Any  # a REST answer's (method, url, status), a close's code; None for a frame
        for index, item in enumerate(items):
            if len(item) == 3:  # a frame received (the short form)
                connection, ns, payload = item
                kind, extra = _RECV, None
            else:
                kind, connection, ns, payload, extra = item
            if kind in (_RECV, _SENT):
                data = frames[index]
                if index in suspects:
                    line = dumps({"t": ns, "k": kind, "d": redact_json(data)})
                else:
                    try:
                        text = data.decode()
                    except UnicodeDecodeError:
                        line = dumps({"t": ns, "k": kind, "b64": base64.b64encode(data).decode()})
                    else:
                        line = b'{"t":%d,"k":"%s","d":%s}' % (ns, kind.encode(), dumps(text))
            elif kind == _REST:
                method, url, status = extra
                record = {"t": ns, "k": kind, "m": method, "u": redact_url(redact_token(url)), "s": status}
                record["d"] = redact_json(payload)
                line = dumps(record)
            elif kind == _OPEN:
                line = dumps({"t": ns, "k": kind, "u": redact_url(redact_token(payload))})
            else:
                line = dumps({"t": ns, "k": kind, "code": extra, "reason": payload})
            batch = lines.get(connection)
            if batch is None:
                batch = lines[connection] = []
                first_ns[connection] = ns
            batch.append(line)
        for connection, batch in lines.items():
            batch.append(b"")
            self._file(connection, first_ns[connection]).write(b"\n".join(batch))
        self._records += len(items)

    def _flush(self) -> None:
        drops, self._drops = self._drops, {}
        now = self._clock()
        for connection, lost in drops.items():
            self._file(connection, now).write(orjson.dumps({"t": now, "k": "overflow", "n": lost}) + b"\n")
        for connection, (handle, _) in self._files.items():
            self._open_bytes[connection] = handle.flush()

    def _tick(self, *, rotate: bool) -> None:
        now = self._clock()
        for connection, (_handle, opened) in list(self._files.items()):
            if rotate or now - opened >= self.rotate_ns:
                self._close_file(connection)

    def _close_file(self, connection: str) -> None:
        handle, _ = self._files.pop(connection)
        self._open_bytes.pop(connection, None)
        self._closed_bytes += handle.close()
        self._closed_raw += handle.raw_bytes
        self._closed_files += 1

    def _finish(self) -> None:
        for connection in list(self._files):
            self._close_file(connection)
        self._lock_file.release()

    def _abort(self) -> None:
        for handle, _ in self._files.values():
            with contextlib.suppress(Exception):
                handle.flush()
        self._lock_file.release()


def _as_bytes(payload: bytes | bytearray | memoryview | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else bytes(payload)


# -- reading --------------------------------------------------------------------------------------
def raw_files(out: str | os.PathLike[str], *, open_files: bool = False) -> list[Path]:
    """The raw files of a recording, oldest first per day (and the open ``.tmp`` ones if asked)."""
    root = Path(out) / RAW_DIR
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.glob("date=*")):
        for path in sorted(folder.iterdir()):
            if path.name.endswith(_SUFFIX) or (open_files and path.name.endswith(_SUFFIX + ".tmp")):
                found.append(path)
    return found


def _read_text(path: Path) -> bytes:
    """A zstd file's decompressed bytes up to the last complete block (a killed writer's tail is dropped)."""
    out = io.BytesIO()
    try:
        with open(path, "rb") as handle:
            reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
            while chunk := reader.read(1 << 20):
                out.write(chunk)
    except zstandard.ZstdError:
        pass  # a torn block: keep what decoded before it
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from exc
    return out.getvalue()


def read_raw(path: str | os.PathLike[str]) -> Iterator[Mapping[str, Any]]:
    """The records of one raw file in order, streamed (a file of any size reads in constant memory); the
    partial last line and the torn last block of an unclosed file are skipped.

    Raises:
        RecordingError: the file cannot be read, or a complete line is not JSON.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below, in the generator
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from exc
    with handle:
        reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
        pending = b""
        number = 0
        while True:
            try:
                chunk = reader.read(1 << 20)
            except zstandard.ZstdError:
                break  # a torn block: keep what decoded before it
            except OSError as exc:
                raise RecordingError(f"cannot read {path}: {exc}") from exc
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()  # no newline yet: the rest comes with the next chunk (or never)
            for line in lines:
                number += 1
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise RecordingError(f"{path}: line {number} is not JSON") from exc


def read_recording(out: str | os.PathLike[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(connection, record)`` for every record of every raw file of a recording (the open ones' readable
    prefix too), merged across connections and files in order of the local time ``t``: the order in which
    the recording process took them in. Streamed.

    Raises:
        RecordingError: a file cannot be read.
    """

    def records(path: Path, index: int) -> Iterator[tuple[int, int, str, Mapping[str, Any]]]:
        connection = path.name.split(".")[0]
        for record in read_raw(path):
            if record.get("k") == "file":
                connection = str(record.get("connection", connection))
                continue
            yield record["t"], index, connection, record

    files = raw_files(out, open_files=True)
    for _t, _index, connection, record in heapq.merge(*(records(p, i) for i, p in enumerate(files))):
        yield connection, record


def recover_raw(out: str | os.PathLike[str], *, lock: bool = True) -> int:
    """Close the raw files a killed writer left open (their readable prefix); returns how many.

    Raises:
        ConfigurationError: a raw log is writing to ``out`` right now.
    """
    root = Path(out) / RAW_DIR
    if not root.is_dir():
        return 0
    guard = DirectoryLock(root)
    if lock and not guard.acquire():
        raise ConfigurationError(f"a raw log is writing to {root}")
    try:
        for stale in root.glob("date=*/.*.recovering"):  # a recovery that was itself interrupted
            stale.unlink()
        count = 0
        for tmp in root.glob(f"date=*/.*{_SUFFIX}.tmp"):
            data = _read_text(tmp)
            data = data[: data.rfind(b"\n") + 1]
            final = tmp.with_name(tmp.name[1 : -len(".tmp")])
            staging = tmp.with_name(tmp.name + ".recovering")
            staging.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
            os.replace(staging, final)
            tmp.unlink()
            count += 1
        return count
    finally:
        if lock:
            guard.release()
