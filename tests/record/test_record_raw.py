"""The raw layer: frames kept exactly with their receive times, secrets removed, files closed by rename,
a killed writer's open file recovered, overflow written down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import zstandard

from kunb.exceptions import ConfigurationError
from kunb.record.raw import RawLog, raw_files, read_raw, recover_raw, redact_json, redact_url

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("tok-SECRET", "key-SECRET", "sign-SECRET", "pass-SECRET")


def _plain(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True).read()


def test_frames_are_kept_exactly_in_order_with_their_times(tmp_path: Path) -> None:
    frames = [
        b'{"type":"message","topic":"/market/level2:BTC-USDT","data":{"sequenceStart":%d}}' % i
        for i in range(500)
    ]
    with RawLog(tmp_path) as raw:
        raw.opened("public-1", 1, "ws://127.0.0.1:1/endpoint?connectId=c1")
        raw.sent("public-1", 2, '{"id":"1","type":"subscribe","topic":"/market/level2:BTC-USDT"}')
        for i, frame in enumerate(frames):
            raw.received("public-1", 1_000 + i, (frame,))
        raw.received("public-1", 9_000, (b"\xff\x00binary",))
        raw.closed("public-1", 9_001, 1000, "bye")
    (path,) = raw_files(tmp_path)
    assert path.parent.name == "date=1970-01-01" and path.name.startswith("public-1.")
    records = list(read_raw(path))
    assert records[0] == {"t": 1, "k": "file", "connection": "public-1", "version": 1}
    assert records[1] == {"t": 1, "k": "open", "u": "ws://127.0.0.1:1/endpoint?connectId=c1"}
    assert records[2]["k"] == "sent" and records[2]["d"].startswith('{"id":"1"')
    received = [r for r in records if r["k"] == "recv"]
    assert [r["d"].encode() for r in received[:-1]] == frames
    assert [r["t"] for r in received[:-1]] == list(range(1_000, 1_500))
    assert received[-1] == {"t": 9_000, "k": "recv", "b64": "/wBiaW5hcnk="}
    assert records[-1] == {"t": 9_001, "k": "close", "code": 1000, "reason": "bye"}
    assert raw.stats().files == 1 and raw.stats().raw_bytes > raw.stats().bytes


def test_secrets_never_reach_the_disk(tmp_path: Path) -> None:
    with RawLog(tmp_path) as raw:
        raw.opened("private-1", 1, "wss://ws-api-spot.kucoin.com/?token=tok-SECRET&connectId=x")
        raw.rest(
            "private-1",
            2,
            "POST",
            "https://api.kucoin.com/api/v1/bullet-private",
            200,
            b'{"code":"200000","data":{"token":"tok-SECRET","instanceServers":[{"endpoint":"wss://x"}]}}',
        )
        raw.sent(
            "uta-private",
            3,
            '{"id":"a","op":"auth","kc-api-key":"key-SECRET","kc-api-sign":"sign-SECRET",'
            '"kc-api-passphrase":"pass-SECRET","kc-api-timestamp":"1700000000000"}',
        )
        raw.rest(
            "rest",
            4,
            "GET",
            "https://x/api?symbol=BTC-USDT&signature=sign-SECRET",
            200,
            "not json key-SECRET",
        )
        raw.received("private-1", 5, (b'{"type":"welcome","id":"x","note":"token=tok-SECRET"}',))
        # a read mixing public market data (not scanned: the same bytes go to every subscriber) with a
        # private push that holds a secret: the right frame is redacted, the others kept as they came
        public = b'{"type":"message","topic":"/market/ticker:BTC-USDT","data":{"price":"1","k":"%d"}}'
        private = b'{"type":"message","topic":"/spotMarket/tradeOrders","data":{"note":"token=tok-SECRET"}}'
        raw.received("private-1", 6, (public % 1, public % 2, private, public % 3))
    text = b"".join(_plain(p) for p in raw_files(tmp_path))
    for secret in SECRETS:
        assert secret.encode() not in text
    records = [r for p in raw_files(tmp_path) for r in read_raw(p)]
    sent = next(r for r in records if r["k"] == "sent")
    assert '"kc-api-timestamp":"1700000000000"' in sent["d"] and '"kc-api-key":"***"' in sent["d"]
    bullet = next(r for r in records if r["k"] == "rest" and "bullet" in r["u"])
    assert '"instanceServers":[{"endpoint":"wss://x"}]' in bullet["d"]
    read = [r["d"] for r in records if r["t"] == 6]
    assert read[:2] + read[3:] == [(public % n).decode() for n in (1, 2, 3)]
    assert "tradeOrders" in read[2] and "SECRET" not in read[2]


def test_redaction_helpers() -> None:
    assert redact_url("wss://h/?token=abc&connectId=1") == "wss://h/?token=***&connectId=1"
    assert redact_url("https://h/p?symbol=A&sign=abc") == "https://h/p?symbol=A&sign=***"
    assert redact_url("https://h/p?symbol=A") == "https://h/p?symbol=A"
    assert redact_json('{"a":{"Passphrase":"x"},"b":[{"secret":"y"}],"c":1}') == (
        '{"a":{"Passphrase":"***"},"b":[{"secret":"***"}],"c":1}'
    )
    untouched = '{"topic":"/market/ticker:BTC-USDT","data":{"price":"1.5"}}'
    assert redact_json(untouched) == untouched


def test_files_rotate_per_connection_and_close_by_rename(tmp_path: Path) -> None:
    now = [10**18]
    raw = RawLog(tmp_path, rotate_seconds=60, flush_interval=3600, clock=lambda: now[0])
    raw.received("a", now[0], (b"{}",))
    raw.received("b", now[0], (b"{}",))
    raw.flush()
    folder = tmp_path / "raw" / "date=2001-09-09"
    assert sorted(p.name[1:].split(".")[0] for p in folder.glob(".*.tmp")) == ["a", "b"] and not raw_files(
        tmp_path
    )
    now[0] += 61 * 10**9
    raw.flush()  # a minute later: both files are closed (renamed)
    assert sorted(p.name.split(".")[0] for p in raw_files(tmp_path)) == ["a", "b"]
    assert not list(folder.glob(".*.tmp"))
    raw.received("a", now[0], (b"{}",))
    raw.close()
    names = sorted(p.name.split(".")[0] for p in raw_files(tmp_path))
    assert names == ["a", "a", "b"] and not list(folder.glob(".*"))


def test_overflow_is_written_to_the_connection_that_lost_frames(tmp_path: Path) -> None:
    raw = RawLog(tmp_path, capacity=4, flush_interval=3600)
    for i in range(200):
        raw.received("busy", i, (b"{}",))
    assert raw.dropped > 0
    raw.close()
    records = [r for p in raw_files(tmp_path) for r in read_raw(p)]
    (overflow,) = [r for r in records if r["k"] == "overflow"]
    assert overflow["n"] == raw.dropped
    assert sum(r["k"] == "recv" for r in records) == 200 - raw.dropped


def test_a_read_beyond_the_capacity_keeps_what_fits_and_counts_the_rest(tmp_path: Path) -> None:
    raw = RawLog(tmp_path, capacity=5, flush_interval=3600)
    raw.received("busy", 1, tuple(b'{"n":%d}' % i for i in range(7)))  # one read of 7 frames, room for 5
    assert (raw.accepted, raw.dropped) == (5, 2)
    raw.close()
    records = [r for p in raw_files(tmp_path) for r in read_raw(p)]
    assert [r["d"] for r in records if r["k"] == "recv"] == [f'{{"n":{i}}}' for i in range(5)]  # in order
    assert [r["n"] for r in records if r["k"] == "overflow"] == [2]


def test_a_shipment_taken_at_once_keeps_its_order_and_counts_what_did_not_fit(tmp_path: Path) -> None:
    # what a writer process hands its raw log: frames received in the short form, other records in full
    raw = RawLog(tmp_path / "fits", flush_interval=3600)
    raw.take(
        [
            ("rest", "a", 1, b'{"code":"200000"}', ("GET", "https://x/api?token=tok-SECRET", 200)),
            ("a", 2, b'{"n":1}'),
            ("sent", "a", 3, b'{"id":"1"}', None),
            ("a", 4, b'{"n":2}'),
        ]
    )
    raw.close()
    records = [r for p in raw_files(tmp_path / "fits") for r in read_raw(p) if r["k"] != "file"]
    assert [(r["t"], r["k"], r.get("d")) for r in records] == [
        (1, "rest", '{"code":"200000"}'),
        (2, "recv", '{"n":1}'),
        (3, "sent", '{"id":"1"}'),
        (4, "recv", '{"n":2}'),
    ]
    assert "tok-SECRET" not in records[0]["u"]

    full = RawLog(tmp_path / "full", capacity=3, flush_interval=3600)
    full.take([("busy", i, b"{}") for i in range(1_000)])  # far more than the queue holds at once
    assert full.dropped >= 1_000 - 3
    full.close()
    records = [r for p in raw_files(tmp_path / "full") for r in read_raw(p)]
    (overflow,) = [r for r in records if r["k"] == "overflow"]
    assert overflow["n"] == full.dropped
    assert sum(r["k"] == "recv" for r in records) == 1_000 - full.dropped


def test_a_killed_writer_leaves_a_readable_prefix_that_recovery_closes(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from kunb.record.raw import RawLog
        raw = RawLog(sys.argv[1], flush_interval=0.05)
        for i in range(1000):
            raw.received("c1", i, (b'{"n":%d}' % i,))
        raw.flush()
        print("flushed", flush=True)
        while True:
            raw.received("c1", 10**6, (b'{"late":1}',))
            time.sleep(0.001)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"flushed\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        child.stdout.close()
    assert not raw_files(tmp_path)
    (tmp,) = raw_files(tmp_path, open_files=True)
    assert sum(1 for r in read_raw(tmp) if r["k"] == "recv" and "n" in r["d"]) == 1000
    assert recover_raw(tmp_path) == 1
    (closed,) = raw_files(tmp_path)
    records = list(read_raw(closed))
    assert [r["d"] for r in records if r["k"] == "recv"][:1000] == [f'{{"n":{i}}}' for i in range(1000)]
    assert not list(closed.parent.glob(".*"))


def test_one_raw_log_per_directory(tmp_path: Path) -> None:
    with RawLog(tmp_path), pytest.raises(ConfigurationError, match="another raw log"):
        RawLog(tmp_path)
