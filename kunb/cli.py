"""The ``kunb`` command: ``kunb sim`` (the embedded exchange), ``kunb demo`` (JupyterLab on it) and
``kunb record`` (a headless recorder)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# sub-command -> module with ``add_arguments(parser)`` and ``run(args) -> int``
_COMMANDS = {
    "sim": ("kunb.sim.cli", "run the embedded KuCoin-compatible exchange on loopback"),
    "demo": ("kunb.demo", "start the embedded exchange and JupyterLab on the quick-start notebook"),
    "record": ("kunb.record_cli", "record market data (and an account) to a Parquet dataset and raw frames"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kunb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in _COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    module = importlib.import_module(_COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
