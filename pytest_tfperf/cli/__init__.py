"""`tfperf` console script: one module per command (see COMMANDS).

Argument parsing and printing only. Each command module `cli/<command>.py` defines
`register(subparsers) -> None` and `run(args) -> int`; the work lives in the domain modules,
which never import `cli`. TensorFlow is imported by those modules when a command runs, after
`_common` has set TF_CPP_MIN_LOG_LEVEL, inside `_quiet.quiet_tensorflow` (the lines the level
does not silence).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from pytest_tfperf.errors import TfperfError
from pytest_tfperf.cli._common import add_model_args, load_model_from_args, parse_shapes  # noqa: F401
from pytest_tfperf.cli._quiet import quiet_tensorflow, wants_quiet

COMMANDS: tuple[str, ...] = ("summarize", "bench", "optimize", "compare", "merge", "variants", "sweep",
                              "history")


def command_modules() -> dict[str, ModuleType]:
    """{command name: module} for every module of COMMANDS that exists (a missing one is skipped)."""
    modules = {}
    for name in COMMANDS:
        qualified = f"{__name__}.{name}"
        try:
            modules[name] = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:  # the module exists but one of its imports is missing
                raise
    return modules


def build_parser(modules: dict[str, ModuleType] | None = None) -> argparse.ArgumentParser:
    """The `tfperf` parser with one subparser per available command module."""
    modules = command_modules() if modules is None else modules
    parser = argparse.ArgumentParser(
        prog="tfperf", description="TensorFlow model performance from the command line: what is in a "
        "model, how fast it runs and where the time goes, a faster graph with proof that it computes "
        "the same, and comparisons of saved runs. `tfperf COMMAND --help` tells more.",
        epilog="TensorFlow's own info and warning log lines are kept off the terminal unless "
        "TF_CPP_MIN_LOG_LEVEL asks for them (TF_CPP_MIN_LOG_LEVEL=0 shows all of them).")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in modules.values():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tfperf` console script; returns the exit code."""
    modules = command_modules()
    args = build_parser(modules).parse_args(argv)
    with quiet_tensorflow(enabled=wants_quiet()):  # TF's start-up lines ignore the level
        try:
            return modules[args.command].run(args)
        except TfperfError as exc:
            print(f"tfperf {args.command}: error: {exc}", file=sys.stderr)
            return 2


__all__ = ["COMMANDS", "build_parser", "command_modules", "load_model_from_args", "main",
           "parse_shapes"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
