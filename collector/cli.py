"""`lenswatch collector` and `lenswatch token` subcommands.

Registered through `add_subcommands` so the project's main CLI (lenswatch.cli) owns the parser
and this package only contributes its verbs.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time

from collector.auth import ROLES, bind_compounds, create_token, list_tokens, revoke_token
from collector.config import ConfigError, default_db_url, load_config
from collector.store import StoreError, check_connection, migrate, open_store


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Add `collector` and `token` to the given subparsers (from add_subparsers())."""
    p = subparsers.add_parser("collector", help="run the central collector (HTTP API + pages)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8470, help="TCP port (default 8470)")
    p.add_argument("--db", help="SQLAlchemy URL (default: $LENSWATCH_DB or SQLite under "
                                "$LENSWATCH_DATA, ./data)")
    p.add_argument("--config", help="YAML settings file (see docs/collector.md)")
    p.add_argument("--ssl-certfile", help="PEM certificate; enables HTTPS")
    p.add_argument("--ssl-keyfile", help="PEM private key for --ssl-certfile")
    p.add_argument("--ssl-keyfile-password", help="password of an encrypted key (prefer env "
                                                  "LENSWATCH_SSL_KEY_PASSWORD)")
    p.add_argument("--ssl-ca-certs", help="CA bundle to verify client certificates (mTLS)")
    p.add_argument("--ssl-cert-reqs", type=int, default=None, choices=(0, 1, 2),
                   help="client cert requirement: 0 none, 1 optional, 2 required")
    p.add_argument("--workers", type=int, default=1,
                   help="processes (PostgreSQL only; SQLite wants exactly one writer)")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=run_collector)

    t = subparsers.add_parser("token", help="create, list and revoke API tokens")
    t.add_argument("--db", help="SQLAlchemy URL (same default as `collector`)")
    ts = t.add_subparsers(dest="token_cmd", required=True)
    c = ts.add_parser("create", help="create a token (printed once, stored hashed)")
    c.add_argument("--agent", required=True, metavar="ID",
                   help="agent id for role agent (e.g. c0417), else the person's name")
    c.add_argument("--role", default="agent", choices=ROLES)
    c.add_argument("--compound", action="append", default=[], metavar="C",
                   help="agent tokens: a compound whose cameras (C/cam...) this agent may "
                        "report for; repeat for several (required for role agent)")
    c.add_argument("--expires", type=float, default=None, metavar="DAYS",
                   help="refuse the token after this many days (default: never)")
    c.add_argument("--db", dest="db_sub", help=argparse.SUPPRESS)
    c.set_defaults(func=token_create)
    b = ts.add_parser("bind", help="set the compounds an agent token may report for")
    b.add_argument("id", type=int)
    b.add_argument("--compound", action="append", required=True, metavar="C")
    b.add_argument("--db", dest="db_sub", help=argparse.SUPPRESS)
    b.set_defaults(func=token_bind)
    ls = ts.add_parser("list", help="list tokens (never shows the secret)")
    ls.add_argument("--db", dest="db_sub", help=argparse.SUPPRESS)
    ls.set_defaults(func=token_list)
    r = ts.add_parser("revoke", help="revoke a token by its id (from `token list`)")
    r.add_argument("id", type=int)
    r.add_argument("--db", dest="db_sub", help=argparse.SUPPRESS)
    r.set_defaults(func=token_revoke)


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    url = getattr(args, "db_sub", None) or getattr(args, "db", None) or default_db_url()
    store = open_store(url)
    check_connection(store)
    migrate(store)
    return store


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def token_create(args: argparse.Namespace) -> int:
    """Print a new token once; only its SHA-256 digest is kept."""
    try:
        store = _store(args)
        with store.writing() as conn:
            tid, token = create_token(conn, args.agent, args.role, compounds=args.compound,
                                      expires_days=args.expires)
    except (StoreError, ValueError) as exc:
        return _fail(str(exc))
    print(token)
    where = ("store it in the agent's config" if args.role == "agent"
             else "hand it to the person; they sign in with it at /login")
    scope = (f", reporting for compound(s) {', '.join(sorted(set(args.compound)))}"
             if args.role == "agent" else "")
    expiry = f", expires in {args.expires:g} days" if args.expires is not None else ""
    print(f"token id {tid} for {args.role} '{args.agent}'{scope}{expiry}. It is shown only "
          f"now: {where}. Revoke with: lenswatch token revoke {tid}", file=sys.stderr)
    return 0


def token_bind(args: argparse.Namespace) -> int:
    """Rebind an agent token (e.g. one the upgrade bound to no compound)."""
    try:
        store = _store(args)
        with store.writing() as conn:
            ok = bind_compounds(conn, args.id, args.compound)
    except (StoreError, ValueError) as exc:
        return _fail(str(exc))
    if not ok:
        return _fail(f"no active agent token with id {args.id}; see `lenswatch token list`")
    print(f"token {args.id} may report for: {', '.join(sorted(set(args.compound)))}")
    return 0


def token_list(args: argparse.Namespace) -> int:
    try:
        store = _store(args)
        with store.reading() as conn:
            rows = list_tokens(conn)
    except StoreError as exc:
        return _fail(str(exc))
    now = time.time()
    print(f"{'id':>5}  {'role':<8}  {'subject':<24}  {'created (UTC)':<19}  "
          f"{'expires (UTC)':<19}  {'status':<7}  compounds")
    for r in rows:
        created = _utc(r["created_at"])
        expires = _utc(r["expires_at"]) if r["expires_at"] is not None else "never"
        if r["revoked_at"]:
            status = "revoked"
        elif r["expires_at"] is not None and r["expires_at"] <= now:
            status = "expired"
        else:
            status = "active"
        comp = "-"
        if r["role"] == "agent":
            comp = ", ".join((r["compounds"] or "").split()) or "NONE (refused for every camera)"
            if r["compounds_origin"] == "upgrade":
                comp += "  [bound at upgrade from what it had reported]"
        print(f"{r['id']:>5}  {r['role']:<8}  {r['subject']:<24}  {created:<19}  "
              f"{expires:<19}  {status:<7}  {comp}")
    return 0


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def token_revoke(args: argparse.Namespace) -> int:
    try:
        store = _store(args)
        with store.writing() as conn:
            ok = revoke_token(conn, args.id)
    except StoreError as exc:
        return _fail(str(exc))
    if not ok:
        return _fail(f"no active token with id {args.id}; see `lenswatch token list`")
    print(f"token {args.id} revoked")
    return 0


def run_collector(args: argparse.Namespace) -> int:
    """Validate settings and the database, then serve with uvicorn (TLS if certs given)."""
    import os

    import uvicorn

    from collector.app import create_app

    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, db=args.db)
        assert cfg.db is not None
        store = open_store(cfg.db)
        check_connection(store)
        if store.dialect == "sqlite" and args.workers != 1:
            return _fail("SQLite supports one collector process; use PostgreSQL for more")
        if args.workers > 1:
            migrate(store)  # once, before the workers start
            app = None
        else:
            app = create_app(cfg, store=store)
    except (ConfigError, StoreError) as exc:
        return _fail(str(exc))
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        return _fail("TLS needs both --ssl-certfile and --ssl-keyfile")
    ssl_kw = {}
    if args.ssl_certfile:
        ssl_kw = {"ssl_certfile": args.ssl_certfile, "ssl_keyfile": args.ssl_keyfile,
                  "ssl_keyfile_password": args.ssl_keyfile_password
                  or os.environ.get("LENSWATCH_SSL_KEY_PASSWORD")}
        if args.ssl_ca_certs:
            ssl_kw["ssl_ca_certs"] = args.ssl_ca_certs
        if args.ssl_cert_reqs is not None:
            ssl_kw["ssl_cert_reqs"] = args.ssl_cert_reqs
    common = {"host": args.host, "port": args.port, "log_level": args.log_level,
              "timeout_graceful_shutdown": 3, "proxy_headers": False, **ssl_kw}
    if args.workers > 1:
        # Separate processes over one PostgreSQL behave as replicas (docs/collector.md).
        os.environ["LENSWATCH_DB"] = cfg.db
        if args.config:
            os.environ["LENSWATCH_COLLECTOR_CONFIG"] = os.path.abspath(args.config)
        store.dispose()
        uvicorn.run("collector.app:create_app_from_env", factory=True, workers=args.workers,
                    **common)
        return 0
    _settle_heap()
    uvicorn.run(app, **common)
    return 0


def _settle_heap() -> None:
    """Collect once, then exempt everything alive from future collections (`gc.freeze`).

    Start-up leaves ~a million long-lived objects (FastAPI, pydantic, SQLAlchemy, the CLI's
    other subcommands); every full collection walked them all, a 100+ ms pause of the event
    loop and the writer under ingest load. Objects created afterwards are collected as usual.
    """
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    """`python -m collector ...` is the same command line as `lenswatch ...`."""
    from lenswatch.cli import main as lenswatch_main

    return lenswatch_main(argv)
