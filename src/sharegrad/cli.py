"""The ``sharegrad`` command: one subcommand per pipeline stage.

Each module in ``sharegrad/stages/`` that defines ``register_cli(subparsers)``
adds its own subcommand, so a new stage is one new file. Bad input raises
``UserError``, printed here as one line (exit status 2, no traceback).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
from pathlib import Path

from sharegrad import __version__
from sharegrad.errors import UserError

STAGES = Path(__file__).resolve().parent / "stages"


def stage_commands() -> dict[str, list[tuple[str, str | None]]]:
    """Stage module -> the subcommands its ``register_cli`` adds, as (name, help), read from the source.

    Reading the sources instead of importing them keeps ``sharegrad --help`` and every other
    command from importing torch and each stage's dependencies: only the chosen stage is
    imported. A module whose ``register_cli`` names its commands other than by literals maps
    to None and is imported whatever the command.
    """
    found: dict[str, list[tuple[str, str | None]] | None] = {}
    for path in sorted(STAGES.glob("*.py"), key=lambda p: p.stem):
        tree = ast.parse(path.read_text(), str(path))
        register = next((node for node in tree.body
                         if isinstance(node, ast.FunctionDef) and node.name == "register_cli"), None)
        if register is None or not register.args.args:
            continue
        receiver = register.args.args[0].arg
        commands = []
        for node in ast.walk(register):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_parser" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == receiver):
                continue
            if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                commands = None
                break
            help_text = next((k.value.value for k in node.keywords if k.arg == "help"
                              and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)), None)
            commands.append((node.args[0].value, help_text))
        found[path.stem] = commands or None
    return found


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand in argv: its first word that is not an option (the top level takes no values)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(command: str | None = None, *, only_chosen: bool = False) -> argparse.ArgumentParser:
    """The whole parser; with ``only_chosen``, the other stages' subcommands are listed (name and
    help) without importing their modules, and only ``command``'s module is imported."""
    parser = argparse.ArgumentParser(prog="sharegrad", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"sharegrad {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module, commands in stage_commands().items():
        names = [name for name, _ in commands or []]
        if not only_chosen or commands is None or command in names:
            stage = importlib.import_module(f"sharegrad.stages.{module}")
            if hasattr(stage, "register_cli"):
                stage.register_cli(subparsers)
        else:
            for name, help_text in commands:
                subparsers.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(argv), only_chosen=True)
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
