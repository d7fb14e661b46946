"""The ``sharegrad`` command: one subcommand per pipeline stage.

Each module in ``sharegrad/stages/`` that defines ``register_cli(subparsers)``
adds its own subcommand, so a new stage is one new file. Bad input raises
``UserError``, printed here as one line (exit status 2, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from sharegrad import __version__
from sharegrad.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sharegrad", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"sharegrad {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    import sharegrad.stages as stages

    for module in sorted(pkgutil.iter_modules(stages.__path__), key=lambda m: m.name):
        stage = importlib.import_module(f"sharegrad.stages.{module.name}")
        if hasattr(stage, "register_cli"):
            stage.register_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except UserError as exc:
        print(f"sharegrad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sharegrad: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
