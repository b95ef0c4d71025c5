"""Copying a recording's closed files to any ``pyarrow.fs`` filesystem (S3, GCS, Azure, HDFS, local).

A recorder writes to a local directory (its journals need a local disk and atomic renames); what it has
closed, every file that is not hidden, has the same hive layout anywhere, so DuckDB (httpfs), Polars,
pyarrow and Spark read the copy as they read the original.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from ..exceptions import ConfigurationError, RecordingError

__all__ = ["closed_files", "copy_recording"]


def closed_files(out: str | os.PathLike[str]) -> list[Path]:
    """The files of a recording that are finished: Parquet tables and closed raw files, no hidden
    working file (journals, locks, temporaries), relative to ``out``."""
    root = Path(out)
    if not root.is_dir():
        raise ConfigurationError(f"no recording directory at {root}")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                found.append((Path(folder) / name).relative_to(root))
    return found


def copy_recording(
    out: str | os.PathLike[str],
    destination: str,
    filesystem: pafs.FileSystem,
    *,
    skip_existing: bool = False,
) -> list[str]:
    """Copy the closed files of ``out`` under ``destination`` on ``filesystem``; returns the paths written.

    ``skip_existing`` leaves files already at the destination alone (for a periodic sync of compacted
    hours; a file rewritten since, by late data or compaction, keeps its old copy: copy again without it).

    Raises:
        ConfigurationError: ``out`` is not a directory.
        RecordingError: a copy failed (the cause is chained).
    """
    local = pafs.LocalFileSystem()
    root = Path(out).resolve()
    written = []
    for relative in closed_files(root):
        target = f"{destination.rstrip('/')}/{relative.as_posix()}"
        try:
            if skip_existing and filesystem.get_file_info(target).type == pafs.FileType.File:
                continue
            filesystem.create_dir(target.rpartition("/")[0], recursive=True)
            pafs.copy_files(
                str(root / relative), target, source_filesystem=local, destination_filesystem=filesystem
            )
        except (OSError, pa.ArrowException) as exc:
            raise RecordingError(f"cannot copy {relative} to {target}: {exc}") from exc
        written.append(target)
    return written
