"""Stream(record_to=...) and Account(record_to=...) against kunb.sim: the raw layer holds every frame the
connections took in and every REST answer, with tokens and keys removed; both drivers can share one
recording; recording is set up before the start only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.parquet as pq
import pytest
from recordkit import parquet_files, read_table
from test_uta import CREDS, UtaRestFake, order_item
from utafeed import KEY, PASSPHRASE, SECRET, UtaFeed

from kunb.account import Account
from kunb.client import Market, Trade
from kunb.exceptions import ConfigurationError
from kunb.net.uta_rest import UtaRest
from kunb.record import Recording, recording_for
from kunb.record.raw import raw_files, read_raw
from kunb.stream import Stream

FAST = {"backoff_base": 0.05, "backoff_cap": 0.2}
UTA_FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "stable_after": 0.0, "request_timeout": 2.0}


def uta_account(feed: UtaFeed, fake: UtaRestFake, **kw: Any) -> Account:
    rest = UtaRest(url="http://127.0.0.1:9", credentials=CREDS, transport=httpx.MockTransport(fake))
    return Account(CREDS, protocol="uta", ws_url=feed.url, rest=rest, symbols=["BTC-USDT"], **UTA_FAST, **kw)


def raw_records(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Every raw record per connection (the ``file`` header tells the connection)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in raw_files(out):
        records = list(read_raw(path))
        found.setdefault(records[0]["connection"], []).extend(records[1:])
    return found


def everything_on_disk(out: Path) -> bytes:
    """The decompressed raw layer and every Parquet file, to look for secrets in."""
    raw = b"".join(str(r).encode() for path in raw_files(out) for r in read_raw(path))
    return raw + b"".join(path.read_bytes() for path in parquet_files(out))


async def test_a_stream_records_every_frame_and_rest_answer_it_got(exchange, tmp_path: Path) -> None:
    out = tmp_path / "stream"
    frames: list[Any] = []
    stream = Stream(
        ["BTC-USDT", "ETH-USDT"], url=exchange.url, credentials=exchange.credentials, record_to=out
    )
    stream.add_frame_listener(frames.append)
    async with stream:
        await stream.wait_live(15)
        await stream.wait_for(lambda s: s.ticks is not None and s.ticks.appended >= 50, 30)
        pool = stream.connection
        connection = pool.connection_of(next(iter(pool.topics)))
        taken_in = connection.counters.frames
    assert stream.recording is not None and stream.recording.state.value == "closed"

    records = raw_records(out)
    assert set(records) == {connection.name, "rest"}
    ws = records[connection.name]
    kinds = Counter(r["k"] for r in ws)
    assert kinds["open"] == 1 and kinds["close"] == 1 and kinds["sent"] >= 4  # subscribes (and pings)
    assert kinds["recv"] >= taken_in  # every frame off the socket (and those until the close)
    pushed = [r for r in ws if r["k"] == "recv" and '"type":"message"' in r["d"]]
    assert len(pushed) >= len(frames)
    assert [r["t"] for r in ws] == sorted(r["t"] for r in ws)  # local receive time, in order
    assert "token=***" in next(r["u"] for r in ws if r["k"] == "open")

    rest = records["rest"]
    paths = [r["u"].split("?")[0].split("/api", 1)[1] for r in rest]
    assert paths.count("/v1/bullet-public") == 1 and paths.count("/v3/market/orderbook/level2") == 2
    bullet = next(r for r in rest if r["u"].endswith("bullet-public"))
    assert '"token":"***"' in bullet["d"]
    assert exchange.credentials.secret.encode() not in everything_on_disk(out)
    assert read_table(out, "book_snapshots").filter("origin = 'feed'").count("*").fetchall()[0][0] > 0


async def test_an_account_and_a_stream_share_one_recording_without_secrets(exchange, tmp_path: Path) -> None:
    creds = exchange.create_account()
    out = tmp_path / "both"
    with Recording(out) as recording:
        with pytest.raises(ConfigurationError, match="another recorder"):
            Recording(out)
        stream = Stream("BTC-USDT", url=exchange.url, record_to=recording, stats=False)
        account = Account(creds, url=exchange.url, record_to=recording, **FAST)
        async with (
            stream,
            account,
            Trade(url=exchange.url, credentials=creds) as t,
            Market(url=exchange.url) as m,
        ):
            await stream.wait_live(15)
            await account.wait_live(15)
            bid = float((await m.aget_ticker("BTC-USDT"))["bestBid"])
            resting = await t.acreate_limit_order("BTC-USDT", "buy", "0.001", str(round(bid * 0.8, 1)))
            await t.acancel_order(resting["orderId"])
            await t.acreate_market_order("BTC-USDT", "buy", size="0.001")
            await account.wait_for(lambda a: a.counters.order_pushes >= 4, 15)
        assert recording.state.value == "running"  # shared: the drivers leave it open
    assert recording.state.value == "closed"

    records = raw_records(out)
    private = next(name for name in records if name.startswith("private-"))
    assert "token=***" in next(r["u"] for r in records[private] if r["k"] == "open")
    assert any("/account/balance" in r["d"] for r in records[private] if r["k"] == "recv")
    bullets = [r for r in records["rest"] if "bullet-private" in r["u"]]
    assert bullets and all('"token":"***"' in r["d"] for r in bullets)
    disk = everything_on_disk(out)
    for secret in (creds.key, creds.secret, creds.passphrase):
        assert secret.encode() not in disk
    assert read_table(out, "orders").count("*").fetchall()[0][0] >= 4
    assert read_table(out, "fills").count("*").fetchall()[0][0] >= 1
    assert read_table(out, "balances").count("*").fetchall()[0][0] >= 1
    assert read_table(out, "ticks").count("*").fetchall()[0][0] > 0
    for path in parquet_files(out):
        pq.read_table(path)


async def test_recording_is_set_up_before_the_start_only(exchange, tmp_path: Path) -> None:
    stream = Stream("BTC-USDT", url=exchange.url, stats=False)
    recording = stream.record(tmp_path / "one")
    with pytest.raises(ConfigurationError, match="records to"):
        stream.record(tmp_path / "two")
    async with stream:
        await stream.wait_live(15)
    assert recording.state.value == "closed"  # a directory given: the stream's own, closed with it
    late = Account(exchange.credentials, url=exchange.url, **FAST)
    async with late:
        with pytest.raises(ConfigurationError, match="record before starting"):
            late.record(tmp_path / "late")
    assert not (tmp_path / "late").exists()


@pytest.mark.parametrize("process", [False, True], ids=["threads", "process"])
@pytest.mark.parametrize("auth", ["v2", "v1"])
async def test_a_uta_account_records_without_its_credentials(
    tmp_path: Path, auth: str, process: bool
) -> None:
    """The V2 ``op:auth`` frame (key, sign, passphrase) and the V1 token reach the disk as ``***``; the
    account's pushes fill the tables (rebuilt from the raw frames in a writer process)."""
    out = tmp_path / "uta"
    async with UtaFeed() as feed:
        fake = UtaRestFake()
        fake.open_orders = [order_item()]
        recording = Recording(out, process=process)
        acct = uta_account(feed, fake, auth=auth, record_to=recording)
        async with acct:
            await acct.wait_live(5)
            await feed.push({"T": "balance.UNIFIED", "P": 1774982552507478380,
                             "d": {"c": "USDT", "e": "95", "b": "95", "a": "95", "h": "0", "l": "0",
                                   "U": 1774982552505000000}})  # fmt: skip
            await acct.wait_for(lambda a: a.counters.balance_pushes == 1, 5)
        await recording.aclose()
    records = raw_records(out)
    private = next(name for name in records if name.startswith("uta-private-"))
    sent = [orjson.loads(r["d"]) for r in records[private] if r["k"] == "sent"]
    opened = next(r["u"] for r in records[private] if r["k"] == "open")
    if auth == "v2":
        (frame,) = [f for f in sent if f.get("op") == "auth"]
        assert {frame[k] for k in ("kc-api-key", "kc-api-sign", "kc-api-passphrase")} == {"***"}
    else:
        assert "token=***" in opened
        bullet = next(r for r in records["rest"] if "bullet-private" in r["u"])
        assert '"token":"***"' in bullet["d"]
    disk = everything_on_disk(out)
    for secret in (KEY, SECRET, PASSPHRASE, "v1tok"):
        assert secret.encode() not in disk, secret
    balances = read_table(out, "balances").select("currency, account_type").fetchall()
    assert ("USDT", "unified") in balances


async def test_a_writer_process_needs_a_source_with_frames_to_tap(tmp_path: Path) -> None:
    """A replay has no wire: a writer process (which rebuilds events from raw frames) would record
    nothing, so the driver refuses it at once and names the fix; the same recording given to a live
    stream is taken, not owned."""
    recording = Recording(tmp_path / "proc", process=True)
    try:
        with pytest.raises(ConfigurationError, match=r"none to tap.*process=False"):
            recording_for(recording, tappable=False)
        assert recording_for(recording, tappable=True) == (recording, False)
    finally:
        await recording.aclose()
