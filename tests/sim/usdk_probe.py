"""Helper script (not a test): drive kucoin-universal-sdk against a running kunb.sim; print a JSON verdict.

Run as ``python usdk_probe.py URL``. The SDK's ``stop()`` can block forever (kucoin-protocol.md,
"Universal SDK against a local exchange"), so the script ends with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from kucoin_universal_sdk.api import DefaultClient
from kucoin_universal_sdk.generate.spot.market.model_get_part_order_book_req import GetPartOrderBookReqBuilder
from kucoin_universal_sdk.generate.spot.market.model_get_ticker_req import GetTickerReqBuilder
from kucoin_universal_sdk.model import (
    ClientOptionBuilder,
    TransportOptionBuilder,
    WebSocketClientOptionBuilder,
)


def main(url: str) -> dict:
    events: list[str] = []
    got = {"ticker": 0, "level2": 0, "contiguous": True}
    done = threading.Event()
    last_end = [None]

    def on_event(event, msg, err=None):  # the SDK's lifecycle callback
        events.append(event.name)

    ws_opt = WebSocketClientOptionBuilder().with_event_callback(on_event).build()
    opt = (
        ClientOptionBuilder()
        .set_spot_endpoint(url)
        .set_futures_endpoint(url)
        .set_broker_endpoint(url)
        .set_transport_option(TransportOptionBuilder().build())
        .set_websocket_client_option(ws_opt)
        .build()
    )
    client = DefaultClient(opt)
    market = client.rest_service().get_spot_service().get_market_api()
    ticker = market.get_ticker(GetTickerReqBuilder().set_symbol("BTC-USDT").build())
    book = market.get_part_order_book(
        GetPartOrderBookReqBuilder().set_symbol("BTC-USDT").set_size("20").build()
    )
    rest = {
        "ticker_bid_lt_ask": float(ticker.best_bid) < float(ticker.best_ask),
        "book_levels": len(book.bids),
        "book_sequence": int(book.sequence),
    }

    def on_ticker(topic, subject, event):
        got["ticker"] += 1
        check()

    def on_l2(topic, subject, event):
        if last_end[0] is not None and event.sequence_start != last_end[0] + 1:
            got["contiguous"] = False
        last_end[0] = event.sequence_end
        got["level2"] += 1
        check()

    def check():
        if got["ticker"] >= 3 and got["level2"] >= 5:
            done.set()

    ws = client.ws_service().new_spot_public_ws()
    ws.start()
    ws.ticker(["BTC-USDT"], on_ticker)
    ws.orderbook_increment(["BTC-USDT"], on_l2)
    ok = done.wait(15)
    return {"ok": ok, "rest": rest, "ws": got, "callback_errors": events.count("EVENT_CALLBACK_ERROR")}


if __name__ == "__main__":
    try:
        result = main(sys.argv[1])
    except Exception as exc:  # report, do not hang
        result = {"ok": False, "error": repr(exc)}
    print(json.dumps(result), flush=True)
    os._exit(0)
