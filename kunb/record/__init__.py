"""Recording: normalized events to a Parquet dataset, raw frames to compressed JSON lines, and queries.

* :class:`Recording` opens both layers in one directory (what ``Stream(record_to=...)`` uses);
* :class:`Recorder` is a sink of :mod:`kunb.events` that writes ``out/<table>/date=.../symbol=.../``
  Parquet files (read as they are by DuckDB, Spark, Polars, pyarrow and Dask);
* :class:`RawLog` keeps every frame received and sent and every REST answer, secrets removed, per
  connection, for exact replay;
* :class:`Dataset` queries a recording with DuckDB: tables, the book at a past time, candles from trades;
* :func:`recover` repairs a directory whose recorder was killed; :func:`copy_recording` copies the closed
  files to object storage; :func:`import_cryptofeed` imports a cryptofeed capture.

``recording-and-replay.md`` describes the layout and the tables. Names load on first use (PEP 562), so a
recorder does not pull in DuckDB and pandas.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError

_LAZY: dict[str, str] = {
    "SCHEMAS": "kunb.record.tables",
    "TABLES": "kunb.record.tables",
    "Dataset": "kunb.record.dataset",
    "ImportReport": "kunb.record.importer",
    "PastBook": "kunb.record.dataset",
    "RawLog": "kunb.record.raw",
    "RawStats": "kunb.record.raw",
    "Recorder": "kunb.record.writer",
    "RecorderStats": "kunb.record.writer",
    "Recording": "kunb.record.session",
    "RecordingStats": "kunb.record.stats",
    "Recovery": "kunb.record.files",
    "WriterState": "kunb.record.worker",
    "copy_recording": "kunb.record.storage",
    "import_cryptofeed": "kunb.record.importer",
    "raw_files": "kunb.record.raw",
    "read_raw": "kunb.record.raw",
    "read_recording": "kunb.record.raw",
    "recover": "kunb.record.files",
    "recover_raw": "kunb.record.raw",
}

__all__ = sorted([*_LAZY, "open_recording", "recording_for"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kunb.record' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def open_recording(out: str | os.PathLike[str], **options: Any) -> Recording:
    """``Recording(out, **options)``, for the drivers' ``record_to=``: importing this function costs
    nothing, the writers (and pyarrow) load when a recording is opened."""
    recording: Recording = importlib.import_module("kunb.record.session").Recording(out, **options)
    return recording


def recording_for(target: str | os.PathLike[str] | Recording, *, tappable: bool) -> tuple[Recording, bool]:
    """What a driver's ``record_to=`` names, and whether the driver owns it (it opened the directory, so
    it closes it); ``tappable``: the driver's source has a wire to tap (a replay has none). A directory
    is recorded by a writer process when there is a wire to tap (``Recording(process=True)``: the feed
    keeps most of its speed, where writer threads in its own interpreter halve it; ``bench/RESULTS.md``,
    "Recording"), else by writer threads (the only way without raw frames to rebuild the events from).

    Raises:
        ConfigurationError: a recording with a writer process (it rebuilds the events from the raw frames)
            for a source with no frames to tap.
    """
    if isinstance(target, str | os.PathLike):
        return open_recording(target, process=tappable), True
    if target.process and not tappable:
        raise ConfigurationError(
            "a recording's writer process rebuilds the events from the raw frames, and this source has "
            "none to tap: record it with Recording(..., process=False)"
        )
    return target, False


if TYPE_CHECKING:  # pragma: no cover
    # `X as X`: an explicit re-export, so type checkers (mypy --strict: no_implicit_reexport) see X
    from .dataset import Dataset as Dataset
    from .dataset import PastBook as PastBook
    from .files import Recovery as Recovery
    from .files import recover as recover
    from .importer import ImportReport as ImportReport
    from .importer import import_cryptofeed as import_cryptofeed
    from .raw import RawLog as RawLog
    from .raw import RawStats as RawStats
    from .raw import raw_files as raw_files
    from .raw import read_raw as read_raw
    from .raw import read_recording as read_recording
    from .raw import recover_raw as recover_raw
    from .session import Recording as Recording
    from .stats import RecordingStats as RecordingStats
    from .storage import copy_recording as copy_recording
    from .tables import SCHEMAS as SCHEMAS
    from .tables import TABLES as TABLES
    from .worker import WriterState as WriterState
    from .writer import Recorder as Recorder
    from .writer import RecorderStats as RecorderStats
