"""Pure market and account state fed with normalized events: order books, rolling frames, holdings.
No I/O, no clock: every time is an argument."""
