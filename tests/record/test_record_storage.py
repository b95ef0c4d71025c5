"""Copying a recording's closed files to a ``pyarrow.fs`` filesystem: hidden working files stay behind,
and the copy reads with hive partitioning through that filesystem."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest
from recordkit import SECOND, T0, Market

from kunb.exceptions import ConfigurationError
from kunb.record import Recorder
from kunb.record.raw import RawLog
from kunb.record.storage import closed_files, copy_recording


def test_closed_files_are_copied_and_read_through_the_filesystem(tmp_path: Path) -> None:
    out = tmp_path / "session"
    with Recorder(out) as recorder, RawLog(out) as raw:
        for event in Market("BTC-USDT").events(20, T0, SECOND):
            recorder(event)
        raw.received("public-1", T0, (b"{}",))
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    store = pafs.SubTreeFileSystem(str(bucket), pafs.LocalFileSystem())  # stands in for S3/GCS
    written = copy_recording(out, "recordings/session", store)
    names = {Path(p).name for p in written}
    assert "22.parquet" in names and any(n.endswith(".jsonl.zst") for n in names)
    assert not any(part.startswith(".") for p in written for part in p.split("/"))  # no lock, no journal
    assert len(written) == len(closed_files(out))
    table = pads.dataset("recordings/session/ticks", filesystem=store, partitioning="hive").to_table()
    assert table.num_rows == 20 and set(table["symbol"].to_pylist()) == {"BTC-USDT"}
    assert copy_recording(out, "recordings/session", store, skip_existing=True) == []


def test_copying_a_missing_recording_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no recording directory"):
        copy_recording(tmp_path / "nope", "x", pafs.LocalFileSystem())
