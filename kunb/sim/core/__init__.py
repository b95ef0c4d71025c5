"""The embedded exchange's pure core: symbols, order books and matching, synthetic flow, trade tapes and
candles, accounts and their ledger, user orders and trading, and the private events trading emits.

No I/O, no clock read (every time is an argument), no asyncio, websockets or starlette: the core is
driven by plain calls and tested with plain values. It imports nothing else of ``kunb.sim``.
"""
