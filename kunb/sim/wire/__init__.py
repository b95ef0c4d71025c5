"""Encoders of KuCoin's classic protocol: the JSON shapes of REST answers and WebSocket frames.

Pure functions from core state and core events to JSON-ready values (``market``: public market data,
``private_push``: account and order pushes, ``private_rest``: signed REST answers, ``envelope``: the
push envelope and bullet answer). A second protocol's encoders (UTA) sit beside these. Imports only
:mod:`kunb.sim.core`.
"""
