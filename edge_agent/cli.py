"""Command-line entry for `lenswatch agent`, registered by lenswatch.cli's dispatcher.

Start-up problems (a bad config, an unwritable outbox) exit with code 2 and one readable line
rather than a traceback, because whoever reads it is usually fixing a compound's config on site.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from typing import Any

from edge_agent.config import ConfigError, load_config
from edge_agent.redact import install_log_redaction


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # lenswatch.cli may have configured the root logger already: the config's level wins.
    logging.getLogger().setLevel(getattr(logging, level, logging.INFO))
    # FFmpeg's own log lines go through PyAV's logger; keep them out unless debugging.
    logging.getLogger("libav").setLevel(logging.ERROR if level != "DEBUG" else logging.DEBUG)
    # httpx logs every request at INFO: one line per POST and poll is noise, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    install_log_redaction()


def run_agent(args: argparse.Namespace) -> int:
    """Load the config, then run the agent until SIGTERM/SIGINT."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"lenswatch agent: config error: {exc}", file=sys.stderr)
        return 2
    _setup_logging(cfg.log_level)
    if args.retry_dead_letters:
        return retry_dead_letters(cfg.outbox.path)
    from edge_agent.agent import Agent

    try:
        agent = Agent(cfg)
    except (OSError, sqlite3.Error) as exc:
        print(f"lenswatch agent: cannot open the outbox {cfg.outbox.path}: {exc}",
              file=sys.stderr)
        return 2
    return agent.run()


def retry_dead_letters(path: Any) -> int:
    """Move every dead letter back to the outbox queue, then exit.

    A one-shot rather than a mode of the running agent, so it works the same whether the agent
    runs (its next pass takes them: the move is one SQLite transaction) or is stopped for the
    upgrade (the next start sends them). An event refused again returns to the dead letters.
    """
    from edge_agent.outbox import Outbox

    try:
        box = Outbox(path)
    except (OSError, sqlite3.Error) as exc:
        print(f"lenswatch agent: cannot open the outbox {path}: {exc}", file=sys.stderr)
        return 2
    try:
        n = box.requeue_dead_letters()
    finally:
        box.close()
    print(f"moved {n} dead letter(s) from {path} back to the delivery queue; the agent sends "
          "them on its next pass (now if it runs, else when it starts)")
    return 0


def add_subcommands(subparsers: Any) -> None:
    """Register `agent` on the lenswatch dispatcher's subparsers."""
    p = subparsers.add_parser("agent", help="watch a compound's cameras and report their health")
    p.add_argument("--config", required=True, metavar="PATH",
                   help="agent YAML config (see config/edge.yaml)")
    p.add_argument("--retry-dead-letters", action="store_true",
                   help="move events the collector refused back to the delivery queue (after "
                        "an upgrade of the collector or the agent), then exit")
    p.set_defaults(func=run_agent)


def main(argv: list[str] | None = None) -> int:
    """`python -m edge_agent ...` is the same command line as `lenswatch ...`."""
    from lenswatch.cli import main as lenswatch_main

    return lenswatch_main(argv)
