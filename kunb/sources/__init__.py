"""Sources of events for the drivers: a live protocol (classic today) or a recording, behind one seam
(:mod:`kunb.sources.base`)."""
