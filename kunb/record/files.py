"""The recording's files on disk: journals, Parquet pieces, hourly compaction and crash recovery.

Layout of a recording directory ``out``::

    out/.lock                                        held (flock) by the recorder writing here
    out/.journal/<table>.<run>-<n>.arrows            Arrow IPC streams being written (the crash-safe part)
    out/<table>/date=YYYY-MM-DD/symbol=SYM/HH-<run>-<n>.parquet   pieces, one per journal and hour
    out/<table>/date=YYYY-MM-DD/symbol=SYM/HH.parquet             a compacted hour

A journal is one table's Arrow IPC stream: the writer appends a batch and flushes it every flush interval,
so a process killed at any moment leaves complete batches plus at most one torn tail, which
:func:`read_journal` drops. Every rotation a journal is sealed and split into Parquet pieces by date,
partition and hour; closed hours are compacted into one ``HH.parquet`` per partition. Every Parquet file
is written as a hidden ``.*.tmp`` and renamed, so a reader (DuckDB, Spark, Polars, pyarrow: all skip
names starting with ``.``) never sees a half-written file. Conversion is idempotent (a piece is named
after its journal) and a compacted file lists the pieces it replaced in its metadata, so a crash between
any two steps is repaired by :func:`recover` without losing or duplicating rows.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..exceptions import ConfigurationError, RecordingError
from .tables import PARTITION, SCHEMAS, TABLES, Table

try:  # POSIX: advisory locks die with the process, so a SIGKILLed recorder never leaves a stale lock
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one recorder per directory is on the user
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "JOURNAL_DIR",
    "DirectoryLock",
    "Journal",
    "Recovery",
    "absolute_hour",
    "compact_hour",
    "convert_journal",
    "journal_paths",
    "pending_pieces",
    "read_journal",
    "recover",
    "repair",
    "write_parquet",
]

JOURNAL_DIR = ".journal"
COMPACTED_KEY = b"kunb.compacted_from"
_COMPRESSION = "zstd"
_PIECE = re.compile(r"^(\d\d)-(.+)\.parquet$")
_SEALED = ".converting"


def partition_value(value: str) -> str:
    """A partition value safe as a directory name (percent-encoded like Hive/Spark escape theirs)."""
    return quote(value, safe="") if value else "__HIVE_DEFAULT_PARTITION__"


def write_parquet(table: pa.Table, path: Path, *, metadata: dict[bytes, bytes] | None = None) -> int:
    """Write ``table`` to ``path`` via a hidden temporary file and a rename; returns the bytes written."""
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp, compression=_COMPRESSION)
        size = tmp.stat().st_size
        os.replace(tmp, path)
    except (OSError, pa.ArrowException) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RecordingError(f"cannot write {path}: {exc}") from exc
    return size


# -- journals -------------------------------------------------------------------------------------
class Journal:
    """One table's Arrow IPC stream file, appended batch by batch (not thread-safe: one writer thread)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self.bytes = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        try:
            self._writer = ipc.new_stream(self._file, schema)
        except BaseException:
            self._file.close()
            raise

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def flush(self) -> None:
        """Hand what was written to the OS: from now on it survives the process being killed."""
        self._file.flush()
        self.bytes = self._file.tell()

    def close(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.close()


def journal_paths(out: Path, *, sealed: bool = True) -> list[Path]:
    """The journals in ``out`` (those being converted too, unless ``sealed`` is false), oldest first."""
    folder = out / JOURNAL_DIR
    if not folder.is_dir():
        return []
    names = [p for p in folder.iterdir() if p.suffix == ".arrows" or (sealed and p.suffix == _SEALED)]
    return sorted(names, key=lambda p: p.name)


def journal_table(path: Path) -> Table:
    """The table a journal belongs to (its name is ``<table>.<id>.arrows``)."""
    table = path.name.partition(".")[0]
    if table not in SCHEMAS:
        raise RecordingError(f"{path} is not a journal of a known table")
    return table


def read_journal(path: Path) -> pa.Table | None:
    """Every complete batch of a journal, dropping a torn tail (a write cut short by a kill).

    ``None`` when the file is gone (converted meanwhile) or holds not even its schema.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordingError(f"cannot read journal {path}: {exc}") from exc
    try:
        reader = ipc.open_stream(pa.py_buffer(data))
    except (OSError, pa.ArrowInvalid):
        return None  # killed before the schema was complete: nothing was recorded in it
    batches = []
    while True:
        try:
            batches.append(reader.read_next_batch())
        except StopIteration:
            break
        except (OSError, pa.ArrowInvalid):
            break  # a torn last batch: everything before it is intact
    return pa.Table.from_batches(batches, schema=reader.schema)


@dataclass(frozen=True)
class Piece:
    """A Parquet piece written from a journal: its file, and the hour file it will be compacted into."""

    path: Path

    @property
    def hour_file(self) -> Path:
        return self.path.with_name(self.path.name[:2] + ".parquet")


def convert_journal(out: Path, path: Path) -> tuple[list[Piece], int]:
    """Split a sealed journal into Parquet pieces by date, partition and hour, then delete it.

    Returns the pieces and the bytes written. Idempotent: a piece's name comes from the journal's, so
    converting the same journal again (after a crash before the delete) rewrites the same files.
    """
    table_name = journal_table(path)
    data = read_journal(path)
    pieces: list[Piece] = []
    written = 0
    if data is not None and data.num_rows:
        stem = path.name.split(".")[1]
        for piece_path, rows in _split(out, table_name, data, stem):
            written += write_parquet(rows, piece_path)
            pieces.append(Piece(piece_path))
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return pieces, written


def _split(out: Path, table_name: Table, data: pa.Table, stem: str) -> Iterator[tuple[Path, pa.Table]]:
    """(piece path, rows) for each (date, partition value, hour) of ``data``, rows in arrival order."""
    column = PARTITION[table_name]
    micros = data["time"].cast(pa.int64()).to_numpy()
    hours = micros // 3_600_000_000  # hours since the epoch (UTC)
    if column is None:
        codes = np.zeros(len(hours), dtype=np.int64)
        values: list[str] = [""]
    else:
        encoded = pc.dictionary_encode(data[column]).combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        values = encoded.dictionary.to_pylist()
    keys = codes * 1_000_000_000 + hours
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    bounds = [0, *(np.flatnonzero(np.diff(sorted_keys)) + 1).tolist(), len(sorted_keys)]
    keep = [name for name in data.column_names if name != column]
    for start, stop in itertools.pairwise(bounds):
        key = int(sorted_keys[start])
        code, hour = divmod(key, 1_000_000_000)
        date = np.datetime64(hour, "h").astype("datetime64[D]")
        folder = out / table_name / f"date={date}"
        if column is not None:
            folder = folder / f"{column}={partition_value(values[code])}"
        rows = data.select(keep).take(pa.array(order[start:stop]))
        yield folder / f"{hour % 24:02d}-{stem}.parquet", rows


# -- compaction -----------------------------------------------------------------------------------
def _compacted_from(path: Path) -> list[str]:
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return []
    raw = meta.get(COMPACTED_KEY)
    return json.loads(raw) if raw else []


def compact_hour(folder: Path, hour: str) -> tuple[Path, int] | None:
    """Merge one partition's pieces of ``hour`` (and its earlier compacted file) into ``HH.parquet``.

    The new file's metadata names the pieces it replaced; they are deleted after the rename, and
    :func:`recover` deletes any that a crash left behind. ``None`` when there was nothing to merge.
    """
    target = folder / f"{hour}.parquet"
    pieces = sorted(p for p in folder.glob(f"{hour}-*.parquet"))
    if not pieces:
        return None
    if len(pieces) == 1 and not target.exists():  # nothing to merge: a rename is atomic and free
        try:
            os.replace(pieces[0], target)
            return target, target.stat().st_size
        except OSError as exc:
            raise RecordingError(f"cannot rename {pieces[0]}: {exc}") from exc
    sources = ([target] if target.exists() else []) + pieces
    try:
        tables = [pq.read_table(p) for p in sources]
    except (OSError, pa.ArrowException) as exc:
        raise RecordingError(f"cannot read pieces in {folder}: {exc}") from exc
    merged = pa.concat_tables(tables, promote_options="default")
    names = json.dumps([p.name for p in pieces]).encode()
    size = write_parquet(merged, target, metadata={COMPACTED_KEY: names})
    for piece in pieces:
        with contextlib.suppress(FileNotFoundError):
            piece.unlink()
    return target, size


def pending_pieces(out: Path) -> dict[tuple[Path, str], list[Path]]:
    """Every uncompacted piece of every table, by (partition folder, hour)."""
    found: dict[tuple[Path, str], list[Path]] = {}
    for table_name in TABLES:
        root = out / table_name
        if not root.is_dir():
            continue
        for folder, _dirs, files in os.walk(root):
            for name in files:
                match = _PIECE.match(name)
                if match:
                    found.setdefault((Path(folder), match.group(1)), []).append(Path(folder) / name)
    return found


def _hidden_temporaries(out: Path) -> Iterable[Path]:
    for table_name in TABLES:
        root = out / table_name
        if root.is_dir():
            for folder, _dirs, files in os.walk(root):
                for name in files:
                    if name.startswith(".") and name.endswith(".tmp"):
                        yield Path(folder) / name


# -- locking and recovery -------------------------------------------------------------------------
class DirectoryLock:
    """An exclusive advisory lock on a recording directory (``out/.lock``), released when the process
    dies however it dies, so a killed recorder never blocks the next one."""

    def __init__(self, out: Path) -> None:
        self.path = out / ".lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; false when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


@dataclass
class Recovery:
    """What :func:`recover` repaired."""

    journals_converted: int = 0
    rows_recovered: int = 0
    temporaries_removed: int = 0
    replaced_pieces_removed: int = 0
    hours_compacted: int = 0
    pieces: list[Path] = field(default_factory=list)


def recover(out: str | os.PathLike[str], *, compact: bool = True, lock: bool = True) -> Recovery:
    """Repair a recording directory left by a recorder that was killed (or just finish one).

    Deletes half-written temporaries, converts the journals' complete batches to Parquet, deletes pieces
    that a compacted hour already holds and (``compact``) compacts every hour that still has pieces.

    Raises:
        ConfigurationError: ``out`` is not a directory, or a recorder is writing to it right now.
        RecordingError: a file could not be read or written.
    """
    root = Path(out)
    if not root.is_dir():
        raise ConfigurationError(f"no recording directory at {root}")
    guard = DirectoryLock(root)
    if lock and not guard.acquire():
        raise ConfigurationError(f"a recorder is writing to {root}; recover it after that recorder stops")
    try:
        return repair(root, compact=compact)
    finally:
        guard.release()


def repair(
    root: Path, *, compact: bool, before_hour: int | None = None, exclude: str | None = None
) -> Recovery:
    """:func:`recover` without the lock (the caller holds it); compacts only hours before ``before_hour``
    (hours since the epoch) when given, and leaves the journals of run ``exclude`` (a running recorder's)
    alone."""
    report = Recovery()
    for tmp in _hidden_temporaries(root):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            report.temporaries_removed += 1
    for path in journal_paths(root):
        if exclude is not None and f".{exclude}-" in path.name:
            continue
        data = read_journal(path)
        report.rows_recovered += 0 if data is None else data.num_rows
        converted, _ = convert_journal(root, path)
        report.pieces.extend(p.path for p in converted)
        report.journals_converted += 1
    for (folder, hour), pieces in pending_pieces(root).items():
        hour_file = folder / f"{hour}.parquet"
        if hour_file.exists():
            done = set(_compacted_from(hour_file))
            for piece in pieces:
                if piece.name in done:
                    piece.unlink()
                    report.replaced_pieces_removed += 1
        due = compact and (before_hour is None or absolute_hour(folder, hour) < before_hour)
        if due and compact_hour(folder, hour) is not None:
            report.hours_compacted += 1
    return report


def absolute_hour(folder: Path, hour: str) -> int:
    """Hours since the epoch of a partition folder's ``date=`` and an ``HH``."""
    for part in folder.parts[::-1]:
        if part.startswith("date="):
            day = np.datetime64(part[5:], "D").astype("datetime64[h]").astype(np.int64)
            return int(day) + int(hour)
    raise RecordingError(f"{folder} is not inside a date= partition")
