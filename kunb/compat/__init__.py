"""Compatibility with KuCoin's SDK examples: the blocking ``_socket`` client and the fields it adds to
pushes that the examples read but KuCoin never sends."""
