"""KuCoin's wire protocols without I/O: sessions (control frames, acks, pings) and decoders (data frames to
:mod:`kunb.events`). Nothing here touches a socket or reads the clock."""
