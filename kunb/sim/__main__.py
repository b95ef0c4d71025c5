"""``python -m kunb.sim``: the same as ``kunb sim``."""

from __future__ import annotations

import sys

from kunb.sim.cli import main

if __name__ == "__main__":
    sys.exit(main())
