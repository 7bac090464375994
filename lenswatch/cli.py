"""The `lenswatch` command: one entry point, each part registers its own subcommands.

Parts are imported only when present and only to register arguments, so `lenswatch analyze`
does not pay for the collector's web stack at start-up.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from lenswatch import __version__

#: Modules exposing add_subcommands(subparsers), in the order shown by --help.
PARTS = ("edge_agent.analyze_cli", "edge_agent.cli", "collector.cli", "lenswatch.simulate",
         "lenswatch.demo",
         "lenswatch.bench")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every installed part's subcommands."""
    parser = argparse.ArgumentParser(
        prog="lenswatch",
        description="Camera health for residential compounds: detect blocked, blurred, "
                    "rippled, frozen and lost cameras and turn them into tickets.")
    parser.add_argument("--version", action="version", version=f"lenswatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part is not part of this install
            raise
        module.add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, configure logging, run the chosen subcommand; its return is the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
