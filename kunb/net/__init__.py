"""The network layer: the WebSocket frame link, one-socket connections with keepalive and reconnect, the
connection pool behind ``KucoinWsClient``, the REST clients, and the one reconnect policy they share."""
