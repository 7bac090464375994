# ruff: noqa: B008 - FastAPI declares dependencies and query parameters as defaults
"""The collector's FastAPI application: ingest, read APIs, tickets, pages, stream, metrics."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path as FsPath
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from collector import tickets as tk
from collector.auth import (
    PERMISSIONS,
    TOKEN_PREFIX,
    Principal,
    hash_token,
    lookup,
    lookup_many,
)
from collector.config import CollectorConfig
from collector.ingest import IngestWriter
from collector.metrics import Metrics
from collector.models import (
    AssignBody,
    CloseBody,
    Command,
    CommentBody,
    EventBatch,
    IngestResult,
    PictureView,
    Problem,
    SessionBody,
)
from collector.pictures import list_views, record_view, sweep_pictures
from collector.schema import agents, camera_faults, cameras, commands, events, webhook_deliveries
from collector.scope import scope_error
from collector.sessions import (
    create_session,
    end_session,
    lookup_session,
    origin_error,
    prune_sessions,
)
from collector.store import Store, migrate, open_store
from collector.stream import _COLS, StreamHub, event_row_to_dict
from collector.webhooks import deliver_due, mask_url
from contract import CONTRACT_VERSION, FAULTS, SEVERITIES, STATES
from contract.wire import (
    AGENT_RE,
    BATCH_KEYS,
    SENT_AT_HEADER,
    VERSION_HEADER,
    HeartbeatIn,
    Invalid,
    clock_offset,
    decode_body,
    event_id_of,
    peer_version,
    validate_event,
)

log = logging.getLogger("lenswatch.collector")

STATIC_DIR = FsPath(__file__).parent / "static"
COOKIE = "lw_session"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

bearer = HTTPBearer(auto_error=False, description="token from `lenswatch token create`")

#: Row ids as path parameters: bounded so no input can overflow a database integer.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]

_ERR = {401: {"model": Problem}, 403: {"model": Problem}}


def api_docs_assets() -> FsPath:
    """Where Swagger UI's and ReDoc's built files are: the `fastapi-offline` package ships
    them (Swagger UI: Apache-2.0, ReDoc: MIT), so nothing is fetched at run time."""
    import fastapi_offline

    return FsPath(fastapi_offline.__file__).parent / "static"


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code=status, detail=detail, headers=headers)


def _roles_with(permission: str) -> str:
    return ", ".join(r for r, perms in PERMISSIONS.items() if permission in perms)


class _Auth:
    """Resolves the caller from a bearer header (API) or the session cookie (pages).

    Successful lookups are cached for `cache_seconds` (default 2 s) so the 636 agents' posts do
    not each cost a database round trip; a revoked token therefore stops working within that
    time on every replica. Failed lookups are never cached, so a new token works at once.

    Tokens in use are re-verified together by `refresh` (one query every `cache_seconds / 2`,
    run by the app's lifespan), which keeps their entries fresh: with per-token expiry alone,
    every agent missed the cache every 2 s, and those lookups (a worker thread, a pooled
    connection, a query each) were a tenth of the collector's CPU under load. "In use" means
    used within `idle_seconds` (an agent under backoff posts less often than every 2 s); a
    token idle longer is forgotten and looked up again on its next use.
    """

    def __init__(self, store: Store, cache_seconds: float, idle_seconds: float = 60.0,
                 trusted_origins: tuple[str, ...] = ()) -> None:
        self.store = store
        self.trusted_origins = trusted_origins
        self.cache_seconds = cache_seconds
        self.idle_seconds = idle_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._last_used: dict[str, float] = {}
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}
        self._flusher: asyncio.Task | None = None

    @staticmethod
    def _token(request: Request, creds: HTTPAuthorizationCredentials | None) -> str | None:
        """The bearer token, if the request carries one (None: look for a session)."""
        if creds is not None:
            return creds.credentials.strip()
        if request.headers.get("authorization"):
            raise _problem(401, "Authorization header must be 'Bearer <token>'",
                           {"WWW-Authenticate": "Bearer"})
        return None

    def session(self, request: Request) -> Principal | None:
        """The person behind the session cookie, or None without one; 401 if it has ended.

        Not cached: a page request costs one indexed read, and a logout or expiry then
        takes effect at once on every replica.
        """
        sid = request.cookies.get(COOKIE)
        if sid is None:
            return None
        with self.store.reading() as conn:
            p = lookup_session(conn, sid.strip())
        if p is None:
            raise _problem(401, "session ended or expired; sign in again at /login",
                           {"WWW-Authenticate": "Bearer"})
        return p

    def check_origin(self, request: Request) -> None:
        """Cookie-authenticated changes must come from the collector's own pages."""
        why = origin_error(request.method, request.headers, request.url.scheme,
                           self.trusted_origins)
        if why is not None:
            raise _problem(403, why)

    def _cached(self, token: str) -> Principal | None:
        hit = self._cache.get(token)
        if hit is not None:
            now = time.monotonic()
            if hit[1] > now:
                self._last_used[token] = now
                return hit[0]
        return None

    def _lookup(self, token: str) -> Principal:
        started = time.monotonic()
        with self.store.reading() as conn:
            p = lookup(conn, token)
        if p is None:
            self._cache.pop(token, None)
            raise _problem(401, "token not recognised or revoked; ask an admin for a new one "
                           "(lenswatch token create)", {"WWW-Authenticate": "Bearer"})
        # Valid as of the query's start: a revocation committed after it is seen by the next
        # lookup or refresh, which starts within cache_seconds.
        self._remember(token, p, started)
        return p

    def refresh(self) -> int:
        """Re-verify, in one query, every cached token used within `idle_seconds`.

        Each entry then stays valid until this query's start plus `cache_seconds`; a token
        revoked since is dropped. Tokens idle for longer are forgotten. Returns the number of
        tokens re-verified.
        """
        started = time.monotonic()
        idle_before = started - self.idle_seconds
        for tok, used in list(self._last_used.items()):
            if used < idle_before:
                self._last_used.pop(tok, None)
                self._cache.pop(tok, None)
        by_digest = {hash_token(t): t for t in list(self._cache) if t in self._last_used}
        if not by_digest:
            return 0
        with self.store.reading() as conn:
            found = lookup_many(conn, list(by_digest))
        expires = started + self.cache_seconds
        for digest, tok in by_digest.items():
            p = found.get(digest)
            if p is None:
                self._cache.pop(tok, None)
            elif tok in self._cache:  # not dropped meanwhile by a failed lookup
                self._cache[tok] = (p, expires)
        return len(by_digest)

    def _remember(self, token: str, p: Principal, valid_from: float) -> None:
        if self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
                self._last_used.clear()
            self._cache[token] = (p, valid_from + self.cache_seconds)
            self._last_used[token] = valid_from

    async def _lookup_coalesced(self, token: str) -> Principal:
        """A cache miss, answered together with every other miss waiting at the same time.

        After a restart all 636 agents miss at once; one query per token (a worker thread
        and a pooled connection each) made the first seconds the slowest of the run. Here at
        most one lookup query is in flight: misses arriving meanwhile wait for the next one.
        """
        loop = asyncio.get_running_loop()
        if self._flusher is not None and self._flusher.get_loop() is not loop:
            # Only when one app serves several event loops in turn (test clients).
            self._pending, self._flusher = {}, None
        fut = self._pending.get(token)
        if fut is None:
            fut = self._pending[token] = loop.create_future()
            if self._flusher is None or self._flusher.done():
                self._flusher = loop.create_task(self._flush_misses())
        p = await asyncio.shield(fut)
        if p is None:
            raise _problem(401, "token not recognised or revoked; ask an admin for a new one "
                           "(lenswatch token create)", {"WWW-Authenticate": "Bearer"})
        return p

    async def _flush_misses(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            started = time.monotonic()
            try:
                found = await asyncio.to_thread(self._lookup_tokens, list(batch))
            except Exception as exc:  # noqa: BLE001 - every waiter gets the database error
                for fut in batch.values():
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for tok, fut in batch.items():
                p = found.get(tok)
                if p is not None:
                    self._remember(tok, p, started)
                else:
                    self._cache.pop(tok, None)
                if not fut.done():
                    fut.set_result(p)

    def _lookup_tokens(self, toks: list[str]) -> dict[str, Principal]:
        plausible = {hash_token(t): t for t in toks
                     if t.startswith(TOKEN_PREFIX) and len(t) <= 200}
        if not plausible:
            return {}
        with self.store.reading() as conn:
            found = lookup_many(conn, list(plausible))
        return {plausible[d]: p for d, p in found.items()}

    async def authenticate(self, token: str, permission: str) -> Principal:
        """The principal for a bearer token, if it may do `permission`; else 401/403."""
        p = self._cached(token) or await self._lookup_coalesced(token)
        if not p.can(permission):
            raise _problem(403, f"role '{p.role}' may not do this; it needs a token with "
                           f"role {_roles_with(permission)}")
        return p

    def principal(self, request: Request, creds: HTTPAuthorizationCredentials | None
                  ) -> Principal | None:
        """Synchronous variant for pages and handlers already in a worker thread."""
        token = self._token(request, creds)
        if token is None:
            p = self.session(request)
            if p is not None:
                self.check_origin(request)
            return p
        return self._cached(token) or self._lookup(token)

    def require(self, permission: str) -> Callable[..., Any]:
        async def dep(request: Request,
                      creds: HTTPAuthorizationCredentials | None = Security(bearer)
                      ) -> Principal:
            token = self._token(request, creds)
            if token is not None:
                return await self.authenticate(token, permission)
            p = (await asyncio.to_thread(self.session, request)
                 if COOKIE in request.cookies else None)
            if p is None:
                raise _problem(401, "missing token: send 'Authorization: Bearer <token>' "
                               "(create one with `lenswatch token create`)",
                               {"WWW-Authenticate": "Bearer"})
            self.check_origin(request)
            if not p.can(permission):
                raise _problem(403, f"role '{p.role}' may not do this; it needs a token with "
                               f"role {_roles_with(permission)}")
            return p

        return dep


class _BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes the limit; an HTTPException so that FastAPI's
    body parsing re-raises it as it is (it turns any other error into a 400)."""


class _Guard:
    """Pure ASGI middleware: refuse oversized bodies early, add security headers to pages.

    The body limit holds for every route, with or without Content-Length: a declared length
    over the limit is refused before anything is read, and a chunked body is counted as it
    arrives and refused the moment it passes the limit, so no route ever buffers more than
    `max_body` bytes (an unauthenticated 50 MB chunked POST to /v1/session used to be read
    whole). POST /v1/events bypasses this middleware and applies the same limit itself.

    (Starlette's BaseHTTPMiddleware would wrap every ingest request in extra tasks and queues;
    this stays on the hot path of 636 agents, so it is kept minimal.)
    """

    def __init__(self, app: Any, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_body
                except ValueError:
                    await JSONResponse({"detail": "Content-Length is not a number"}, 400)(
                        scope, receive, send)
                    return
                if too_big:
                    await JSONResponse(
                        {"detail": f"request body over {self.max_body} bytes; send smaller "
                                   "batches"}, 413)(scope, receive, send)
                    return

        received = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge(413, f"request body over {self.max_body} bytes")
            return message

        async def send_wrapper(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer")]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    extra += [(b"content-security-policy", CSP.encode()),
                              (b"cache-control", b"no-store")]
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge as exc:  # read outside FastAPI's handlers (e.g. a raw route)
            if started:
                raise
            await JSONResponse({"detail": exc.detail}, 413)(scope, receive, send)


class _CollectorApp(FastAPI):
    """FastAPI with POST /v1/events answered before the framework's middleware and routing.

    Measured on the 2-core box, the middleware stack, routing and dependency resolution cost as
    much CPU per batch as validating and storing it; with 636 agents posting, that is the
    collector's ceiling. Every other path goes through FastAPI as usual.
    """

    fast_ingest: Callable[..., Any] | None = None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if (self.fast_ingest is not None and scope["type"] == "http"
                and scope["path"] == "/v1/events" and scope["method"] == "POST"):
            await self.fast_ingest(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


#: What Starlette's JSONResponse does, with the encoder built once instead of per answer.
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
#: Headers every JSON answer of the fast ingest path carries (as `_Guard` adds elsewhere).
_INGEST_HEADERS = [(b"content-type", b"application/json"),
                   (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def _tally_key(item: Any, outcome: str) -> tuple[str, str | None, str]:
    """The (kind, fault, outcome) an ingested event is counted under in the metrics."""
    if isinstance(item, HeartbeatIn):
        return ("heartbeat", None, outcome)
    return ("state_change", item.fault, outcome)


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_JSON = {"application/json": {"schema": _PROBLEM_REF}}


def _declare_errors(schema: dict[str, Any]) -> None:
    """Make the published error responses say what the collector really answers.

    FastAPI documents 422 as its own `HTTPValidationError` (a list of error objects), but the
    collector's handler answers `{"detail": "<field>: <message>"}` (a Problem, like every other
    error); it documents a route's extra error responses under the route's own media type
    (text/plain for /metrics, the CSV export), while errors are always JSON; and it does not
    know the statuses every route can give: 503 when the database is unreachable, 413 for a
    body over the limit (the body-size guard), 400 for a body that is not JSON. Found by
    schemathesis's conformance checks (tests/collector/test_collector_schemathesis.py).
    """
    comps = schema.setdefault("components", {}).setdefault("schemas", {})
    comps.setdefault("Problem", {"title": "Problem", "type": "object", "required": ["detail"],
                                 "properties": {"detail": {"type": "string",
                                                           "title": "Detail"}}})
    for item in schema.get("paths", {}).values():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for code, resp in responses.items():
                if code.startswith(("4", "5")):
                    resp["content"] = _PROBLEM_JSON
                    if code == "422":
                        resp["description"] = ("the request does not match the operation; "
                                               "`detail` names each field and why")
            responses.setdefault("503", {"description": "the database is unreachable; retry",
                                         "content": _PROBLEM_JSON})
            if method in ("post", "put", "patch"):
                responses.setdefault("413", {"description": "the body is over the size limit",
                                             "content": _PROBLEM_JSON})
            if "requestBody" in op:
                responses.setdefault("400", {"description": "the body is not valid JSON",
                                             "content": _PROBLEM_JSON})
    for name in ("HTTPValidationError", "ValidationError"):
        comps.pop(name, None)


def create_app(cfg: CollectorConfig, *, store: Store | None = None,
               run_migrations: bool = True) -> FastAPI:
    """Build the app; background work (writer, stream, sweeper, webhooks) starts in lifespan."""
    assert cfg.db is not None
    own_store = store is None
    store = store or open_store(cfg.db)
    if run_migrations:
        migrate(store)
    auth = _Auth(store, cfg.auth_cache_seconds,
                 idle_seconds=max(60.0, 10 * cfg.auth_cache_seconds),
                 trusted_origins=tuple(cfg.trusted_origins))
    metrics = Metrics(store, cfg.agent_silent_after_seconds)
    hub = StreamHub(store, cfg.stream_poll_seconds)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["writer"] = IngestWriter(store)
        await hub.start()
        tasks = []
        if cfg.auth_cache_seconds > 0:
            tasks.append(asyncio.create_task(_auth_refresher(), name="auth-refresh"))
        if cfg.sweep_interval_seconds > 0:
            tasks.append(asyncio.create_task(_sweeper(), name="sweeper"))
        if cfg.webhooks:
            tasks.append(asyncio.create_task(_webhooker(), name="webhooks"))
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await hub.stop()
            await asyncio.to_thread(state["writer"].close)
            if own_store:
                store.dispose()

    async def _auth_refresher() -> None:
        while True:
            await asyncio.sleep(cfg.auth_cache_seconds / 2)
            try:
                await asyncio.to_thread(auth.refresh)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - entries then expire and are looked up singly
                log.exception("token refresh failed")

    async def _sweeper() -> None:
        last_prune = last_pictures = 0.0
        while True:
            try:
                await asyncio.to_thread(sweep_once)
                if time.time() - last_prune > 600:
                    await asyncio.to_thread(_prune)
                    last_prune = time.time()
                if time.time() - last_pictures > cfg.picture_sweep_seconds:
                    await asyncio.to_thread(sweep_pictures_once)
                    last_pictures = time.time()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep sweeping after a DB hiccup
                log.exception("ticket sweep failed")
            await asyncio.sleep(cfg.sweep_interval_seconds)

    def sweep_once(now: float | None = None) -> dict[str, int]:
        with store.writing() as conn:
            return tk.sweep(conn, store.dialect, cfg, now)

    def sweep_pictures_once(now: float | None = None) -> dict[str, int]:
        """Delete pictures past `picture_retention_days` (personal data; see pictures.py).

        Every replica runs it; the UPDATEs are idempotent, so replicas sweeping together
        only repeat each other's work.
        """
        with store.writing() as conn:
            done = sweep_pictures(conn, cfg.picture_retention_days, now)
        if any(done.values()):
            log.info("picture retention: deleted %(snapshots_deleted)d snapshot(s) and "
                     "%(references_deleted)d reference picture(s)", done)
        return done

    def _prune() -> None:
        cutoff = time.time() - cfg.heartbeat_retention_days * 86400
        with store.writing() as conn:
            conn.execute(events.delete().where(events.c.kind == "heartbeat",
                                               events.c.received_at < cutoff))
            prune_sessions(conn)

    async def _webhooker() -> None:
        with httpx.Client(timeout=10.0) as client:
            while True:
                try:
                    await asyncio.to_thread(deliver_due, store, cfg, client)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001
                    log.exception("webhook delivery pass failed")
                await asyncio.sleep(cfg.webhook_poll_seconds)

    app = _CollectorApp(
        title="lenswatch collector",
        version="1",
        description="Central collector: agents POST camera state changes; operators watch; "
                    "crews work tickets. See docs/collector.md.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hooks: off. The collector exports Prometheus metrics,
        # and OTel "logs" would record exception messages, which may quote request data.
        telemetry={"tracing": False, "metrics": False, "logs": False,
                   "operation_spans": False},
        # FastAPI's own /docs and /redoc load their scripts from a CDN, which the pages' CSP
        # refuses (and a site may have no Internet): served from the collector instead, below.
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.cfg = cfg
    app.state.metrics = metrics
    app.state.hub = hub
    app.state.auth = auth
    app.state.sweep_once = sweep_once
    app.state.sweep_pictures = sweep_pictures_once
    app.add_middleware(_Guard, max_body=cfg.limits.max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/apidocs", StaticFiles(directory=api_docs_assets()), name="apidocs")

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        msgs = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            msgs.append(f"{loc or 'body'}: {e.get('msg')}")
        return JSONResponse({"detail": "; ".join(msgs)[:2000]}, 422)

    @app.exception_handler(OperationalError)
    async def _db_down(_req: Request, _exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", _exc.__class__.__name__)
        return JSONResponse({"detail": "storage unavailable; retry later"}, 503)

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        batch = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        comps.update(batch.pop("$defs", {}))
        comps["EventBatch"] = batch
        _declare_errors(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]

    # ------------------------------------------------------------------ ingest
    @app.post(
        "/v1/events",
        response_model=IngestResult,
        responses={400: {"model": Problem}, 413: {"model": Problem},
                   422: {"model": Problem}, 503: {"model": Problem}, **_ERR},
        openapi_extra={"requestBody": {
            "required": True,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/EventBatch"}}},
        }},
        tags=["agents"],
    )
    async def post_events(request: Request,
                          who: Principal = Depends(auth.require("ingest"))) -> Any:
        """Store a batch of state changes and heartbeats; each event_id is stored once.

        (Requests are normally answered by the same code through `fast_ingest`, below, which
        skips the framework's middleware and routing on the hottest path; this route documents
        it and serves when the fast path is switched off.)
        """
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cfg.limits.max_body_bytes:
                return JSONResponse(*_too_big())
            chunks.append(chunk)
        status, payload = await ingest(b"".join(chunks), who,
                                       request.headers.get(VERSION_HEADER),
                                       request.headers.get(SENT_AT_HEADER))
        return JSONResponse(payload, status)

    def _too_big() -> tuple[dict[str, str], int]:
        metrics.batches.labels("too_large").inc()
        return ({"detail": f"request body over {cfg.limits.max_body_bytes} bytes; send "
                           "smaller batches"}, 413)

    batches_ok = metrics.batches.labels("ok")

    async def ingest(raw: bytes, who: Principal, version: str | None = None,
                     sent_at: str | None = None) -> tuple[int, dict[str, Any]]:
        """Judge a batch event by event (contract.wire) and store the good ones.

        `version` and `sent_at` are the contract's headers: the agent's contract version
        and its clock's time of sending."""
        t0 = time.perf_counter()
        now = time.time()
        try:
            body = decode_body(raw)
        except (ValueError, UnicodeDecodeError):
            metrics.batches.labels("malformed").inc()
            return 400, {"detail": 'body is not valid JSON; send {"agent": "<id>", '
                                   '"events": [...]}'}
        if not isinstance(body, dict):
            metrics.batches.labels("malformed").inc()
            return 422, {"detail": 'body must be a JSON object {"agent": "<id>", '
                                   '"events": [...]}'}
        try:
            tolerant = peer_version(version) > CONTRACT_VERSION
        except Invalid as exc:
            metrics.batches.labels("malformed").inc()
            return 422, {"detail": str(exc)}
        extra = [] if tolerant else sorted(str(k) for k in set(body) - BATCH_KEYS)
        agent = body.get("agent")
        evs = body.get("events")
        problem = None
        if extra:
            problem = f"unknown top-level field(s) {extra}; only 'agent' and 'events' allowed"
        elif not isinstance(agent, str) or not AGENT_RE.match(agent):
            problem = "'agent' must be the agent id (1-64 letters, digits, '_', '-', '.')"
        elif not isinstance(evs, list):
            problem = "'events' must be a JSON array of events"
        if problem:
            metrics.batches.labels("malformed").inc()
            return 422, {"detail": problem}
        if len(evs) > cfg.limits.max_batch_events:
            metrics.batches.labels("too_large").inc()
            return 413, {"detail": f"batch has {len(evs)} events; the limit is "
                                   f"{cfg.limits.max_batch_events}, split it"}
        if agent != who.subject:
            metrics.batches.labels("forbidden").inc()
            return 403, {"detail": f"this token belongs to agent '{who.subject}', not "
                                   f"'{agent}'"}
        offset = clock_offset(sent_at, now)
        valid = []
        rejected = []
        seen: set[str] = set()
        dup_in_batch: list[str] = []
        # Counted per batch, not per event: label lookups were a visible share of ingest CPU.
        tally: dict[tuple[str, str | None, str], int] = {}
        for i, obj in enumerate(evs):
            try:
                item = validate_event(obj, agent, now, cfg.limits, offset=offset,
                                      tolerant=tolerant)
                foreign = scope_error(item, who)
                if foreign is not None:
                    metrics.out_of_scope.labels(agent).inc()
                    raise Invalid(foreign)
            except Invalid as exc:
                rejected.append({"event_id": event_id_of(obj), "index": i, "error": str(exc)})
                kind = obj.get("kind", "state_change") if isinstance(obj, dict) else "invalid"
                fault = obj.get("fault") if isinstance(obj, dict) else None
                key = (kind if kind in ("state_change", "heartbeat") else "invalid",
                       fault if isinstance(fault, str) else None, "rejected")
                tally[key] = tally.get(key, 0) + 1
                continue
            if item.event_id in seen:
                dup_in_batch.append(item.event_id)
                key = _tally_key(item, "duplicate")
                tally[key] = tally.get(key, 0) + 1
                continue
            seen.add(item.event_id)
            valid.append(item)
        try:
            res = await state["writer"].submit(agent, valid, offset)
        except Exception:  # noqa: BLE001 - the agent retries 5xx; nothing was half-stored
            log.exception("storing batch from %s failed", agent)
            metrics.batches.labels("error").inc()
            return 503, {"detail": "storage failed; retry this batch"}
        accepted = set(res.accepted)
        for item in valid:
            key = _tally_key(item, "accepted" if item.event_id in accepted else "duplicate")
            tally[key] = tally.get(key, 0) + 1
        for (kind, fault, outcome), n in tally.items():
            metrics.count_event(kind, fault, outcome, n)
        batches_ok.inc()
        metrics.latency.observe(time.perf_counter() - t0)
        return 200, {"accepted": res.accepted, "duplicates": res.duplicates + dup_in_batch,
                     "rejected": rejected}

    ingest_dep = auth.require("ingest")

    async def fast_ingest(scope: dict, receive: Callable, send: Callable) -> None:
        """POST /v1/events straight on ASGI: same answers as the route above, less work."""
        started = False

        async def answer(status: int, payload: Any, headers: dict[str, str] | None = None
                         ) -> None:
            nonlocal started
            body = _JSON.encode(payload).encode()
            hdrs = [*_INGEST_HEADERS, (b"content-length", str(len(body)).encode())]
            if headers:
                hdrs += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                         for k, v in headers.items()]
            started = True
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})

        try:
            authz = version = sent_at = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authz = value.decode("latin-1")
                elif name == b"x-lenswatch-contract":
                    version = value.decode("latin-1")
                elif name == b"x-lenswatch-sent-at":
                    sent_at = value.decode("latin-1")
            try:
                scheme, _, cred = (authz or "").partition(" ")
                if scheme.lower() == "bearer" and cred.strip():
                    who = await auth.authenticate(cred.strip(), "ingest")
                else:  # no or another scheme, or a session cookie: the general path
                    who = await ingest_dep(Request(scope, receive), None)
            except HTTPException as exc:
                await answer(exc.status_code, {"detail": exc.detail}, exc.headers)
                return
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                chunk = msg.get("body", b"")
                size += len(chunk)
                if size > cfg.limits.max_body_bytes:
                    await answer(*reversed(_too_big()))
                    return
                chunks.append(chunk)
                more = msg.get("more_body", False)
            status, payload = await ingest(chunks[0] if len(chunks) == 1 else b"".join(chunks),
                                           who, version, sent_at)
            await answer(status, payload)
        except OperationalError as exc:
            log.error("database error: %s", exc.__class__.__name__)
            if not started:
                await answer(503, {"detail": "storage unavailable; retry later"})
        except Exception:  # noqa: BLE001 - what ServerErrorMiddleware does for other routes
            log.exception("POST /v1/events failed")
            if not started:
                await answer(500, {"detail": "Internal Server Error"})

    app.fast_ingest = fast_ingest

    @app.get("/v1/agents/{agent}/commands", response_model=list[Command],
             responses=_ERR, tags=["agents"])
    def get_commands(agent: str, who: Principal = Depends(auth.require("agent_commands"))
                     ) -> Any:
        """Pending commands (e.g. reset_baseline after a repair) for the calling agent."""
        _own_agent(who, agent)
        with store.reading() as conn:
            rows = conn.execute(
                select(commands.c.id, commands.c.kind, commands.c.camera, commands.c.ticket_id,
                       commands.c.created_at)
                .where(commands.c.agent == agent, commands.c.acked_at.is_(None))
                .order_by(commands.c.id)
            ).mappings().all()
        # Commands follow the camera's own compound, whoever was recorded as its agent.
        return [dict(r) for r in rows if who.may_speak_for(r["camera"])]

    @app.post("/v1/agents/{agent}/commands/{command_id}/ack", responses=_ERR, tags=["agents"])
    def ack_command(agent: str, command_id: RowId,
                    who: Principal = Depends(auth.require("agent_commands"))) -> Any:
        """Mark a command done; acknowledging twice is harmless."""
        _own_agent(who, agent)
        with store.writing() as conn:
            row = conn.execute(select(commands.c.id, commands.c.acked_at, commands.c.camera)
                               .where(commands.c.id == command_id,
                                      commands.c.agent == agent)).first()
            if row is None or not who.may_speak_for(row.camera):
                raise _problem(404, f"no command {command_id} for agent {agent}")
            if row.acked_at is None:
                conn.execute(update(commands).where(commands.c.id == command_id)
                             .values(acked_at=time.time()))
        return {"id": command_id, "acked": True}

    def _own_agent(who: Principal, agent: str) -> None:
        if who.subject != agent:
            raise _problem(403, f"this token belongs to agent '{who.subject}', not '{agent}'")

    # ------------------------------------------------------------------ read API
    def _camera_rows(compound: str | None, fault: str | None, status: str | None,
                     limit: int) -> list[dict[str, Any]]:
        now = time.time()
        silent_after = cfg.agent_silent_after_seconds
        with store.reading() as conn:
            q = select(cameras, agents.c.last_contact, agents.c.last_heartbeat).join(
                agents, agents.c.id == cameras.c.agent, isouter=True)
            if compound:
                q = q.where(cameras.c.compound == compound)
            if fault:
                q = q.where(cameras.c.id.in_(select(camera_faults.c.camera).where(
                    camera_faults.c.fault == fault, camera_faults.c.state == "raised")))
            rows = conn.execute(q.order_by(cameras.c.id).limit(limit)).mappings().all()
            ids = [r["id"] for r in rows]
            faults: dict[str, dict[str, Any]] = {}
            for i in range(0, len(ids), 500):
                for f in conn.execute(select(camera_faults).where(
                        camera_faults.c.camera.in_(ids[i:i + 500]))).mappings():
                    faults.setdefault(f["camera"], {})[f["fault"]] = {
                        "state": f["state"], "since": f["since"], "severity": f["severity"],
                        "confidence": f["confidence"], "event_id": f["event_id"],
                    }
        out = []
        for r in rows:
            fs = faults.get(r["id"], {})
            silent = r["last_contact"] is None or r["last_contact"] < now - silent_after
            raised = sorted(k for k, v in fs.items() if v["state"] == "raised")
            st = "unknown" if silent else ("faulty" if raised else "ok")
            if status and st != status:
                continue
            out.append({
                "id": r["id"], "compound": r["compound"], "agent": r["agent"], "status": st,
                "raised": raised, "faults": fs, "last_seen": r["last_seen"],
                "last_frame": r["last_frame"], "reported_status": r["reported_status"],
                "agent_last_contact": r["last_contact"],
                "agent_last_heartbeat": r["last_heartbeat"], "agent_silent": silent,
                "has_reference": r["reference_image"] is not None,
            })
        return out

    @app.get("/v1/cameras", responses=_ERR, tags=["operators"])
    def list_cameras(
        compound: str | None = Query(None, max_length=64),
        fault: str | None = Query(None, max_length=32),
        status: str | None = Query(None, pattern="^(ok|faulty|unknown)$"),
        limit: int = Query(5000, ge=1, le=50000),
        _who: Principal = Depends(auth.require("view_cameras")),
    ) -> Any:
        """Current health per camera; cameras of a silent agent are 'unknown', not 'ok'."""
        _check_fault(fault)
        return _camera_rows(compound, fault, status, limit)

    @app.get("/v1/compounds", responses=_ERR, tags=["operators"])
    def list_compounds(_who: Principal = Depends(auth.require("view_cameras"))) -> Any:
        """Per-compound counts for the dashboard's overview."""
        per: dict[str, dict[str, Any]] = {}
        for c in _camera_rows(None, None, None, 10**6):
            p = per.setdefault(c["compound"], {"compound": c["compound"], "cameras": 0,
                                               "ok": 0, "faulty": 0, "unknown": 0,
                                               "raised": {}})
            p["cameras"] += 1
            p[c["status"]] += 1
            # Cameras per raised fault, so a fault filter shows the compounds with that fault,
            # not every compound with any fault.
            for f in c["raised"]:
                p["raised"][f] = p["raised"].get(f, 0) + 1
        with store.reading() as conn:
            for comp, n in conn.execute(
                select(tk.tickets.c.compound, func.count()).where(
                    tk.tickets.c.status != "closed").group_by(tk.tickets.c.compound)
            ).all():
                per.setdefault(comp, {"compound": comp, "cameras": 0, "ok": 0, "faulty": 0,
                                      "unknown": 0, "raised": {}})["open_tickets"] = int(n)
        for p in per.values():
            p.setdefault("open_tickets", 0)
        return [per[k] for k in sorted(per)]

    @app.get("/v1/agents", responses=_ERR, tags=["operators"])
    def list_agents(_who: Principal = Depends(auth.require("view"))) -> Any:
        """Agents with last contact, whether they count as silent, and their clock offset.

        `clock_offset` is seconds the agent's clock is behind the collector's (negative:
        ahead), measured from the send-time header of its last POST that carried one
        (`clock_offset_at`); null for agents that do not send it. `clock_skewed`: the offset
        is beyond the allowed skew (`limits.max_future_skew_seconds`); null without an offset."""
        now = time.time()
        skew = cfg.limits.max_future_skew_seconds
        with store.reading() as conn:
            rows = conn.execute(select(agents).order_by(agents.c.id)).mappings().all()
        return [{**dict(r), "silent": r["last_contact"] < now - cfg.agent_silent_after_seconds,
                 "clock_skewed": (None if r["clock_offset"] is None
                                  else abs(r["clock_offset"]) > skew)}
                for r in rows]

    def _check_fault(fault: str | None) -> None:
        if fault is not None and fault not in FAULTS:
            raise _problem(422, f"unknown fault '{fault}'; known: {', '.join(FAULTS)}")

    @app.get("/v1/events", responses=_ERR, tags=["operators"])
    def list_events(
        compound: str | None = Query(None, max_length=64),
        camera: str | None = Query(None, max_length=128),
        fault: str | None = Query(None, max_length=32),
        after_seq: int = Query(0, ge=0, le=2**62),
        limit: int = Query(100, ge=1, le=1000),
        _who: Principal = Depends(auth.require("view")),
    ) -> Any:
        """Recent state changes, newest first (or oldest first after `after_seq`)."""
        _check_fault(fault)
        q = select(*_COLS).where(events.c.kind == "state_change")
        if compound:
            q = q.where(events.c.compound == compound)
        if camera:
            q = q.where(events.c.camera == camera)
        if fault:
            q = q.where(events.c.fault == fault)
        if after_seq:
            q = q.where(events.c.seq > after_seq).order_by(events.c.seq)
        else:
            q = q.order_by(events.c.seq.desc())
        with store.reading() as conn:
            return [event_row_to_dict(r) for r in conn.execute(q.limit(limit)).all()]

    def _serve_picture(request: Request, who: Principal, kind: str, b64: str | None,
                       camera: str | None, event_id: str | None, picture_at: float | None,
                       what: str) -> Response:
        """Serve a stored picture, after writing its audit row (no audit row, no picture).

        `no-store`: a browser or proxy that kept the picture could show it again without the
        collector knowing, so every view must come here (and be audited).
        """
        if not b64:
            raise _problem(404, f"no {what} stored")
        via = "bearer" if request.headers.get("authorization") else "session"
        with store.writing() as conn:
            record_view(conn, who, via, kind, camera, event_id, picture_at)
        return Response(base64.b64decode(b64), media_type="image/jpeg",
                        headers={"Cache-Control": "no-store"})

    _pic = {**_ERR, 404: {"model": Problem},
            200: {"content": {"image/jpeg": {"schema": {"type": "string",
                                                       "format": "binary"}}},
                  "description": "the JPEG; the view is written to the picture audit log"}}

    @app.get("/v1/events/{event_id}/snapshot", responses=_pic, tags=["operators"],
             response_class=Response)
    def event_snapshot(request: Request, event_id: str,
                       who: Principal = Depends(auth.require("view_cameras"))) -> Response:
        """The evidence image an agent attached to a state change, if any (audited)."""
        with store.reading() as conn:
            row = conn.execute(select(events.c.snapshot, events.c.camera,
                                      events.c.received_at).where(
                events.c.event_id == event_id)).first()
        if row is None:
            raise _problem(404, f"no snapshot for event {event_id[:40]} stored")
        return _serve_picture(request, who, "snapshot", row.snapshot, row.camera, event_id,
                              row.received_at, f"snapshot for event {event_id[:40]}")

    @app.get("/v1/reference", responses=_pic, tags=["operators"], response_class=Response)
    def camera_reference(request: Request, camera: str = Query(..., max_length=128),
                         who: Principal = Depends(auth.require("view_cameras"))) -> Response:
        """The camera's reference view as last sent in a heartbeat, if any (audited)."""
        with store.reading() as conn:
            row = conn.execute(select(cameras.c.reference_image, cameras.c.reference_at).where(
                cameras.c.id == camera)).first()
        if row is None:
            raise _problem(404, f"no reference view for {camera} stored")
        return _serve_picture(request, who, "reference", row.reference_image, camera, None,
                              row.reference_at, f"reference view for {camera}")

    @app.get("/v1/audit/pictures", response_model=list[PictureView], responses=_ERR,
             tags=["admin"])
    def picture_audit(
        camera: str | None = Query(None, max_length=128),
        subject: str | None = Query(None, max_length=64),
        since: float | None = Query(None, ge=0, le=1e11, description="epoch seconds"),
        limit: int = Query(500, ge=1, le=5000),
        _who: Principal = Depends(auth.require("admin")),
    ) -> Any:
        """Who viewed which camera's pictures and when, newest first (admins only)."""
        with store.reading() as conn:
            return list_views(conn, camera, subject, since, limit)

    @app.get("/v1/stream", tags=["operators"], responses=_ERR,
             response_class=StreamingResponse)
    async def stream(request: Request, compound: str | None = Query(None, max_length=64),
                     fault: str | None = Query(None, max_length=32),
                     _who: Principal = Depends(auth.require("view"))) -> StreamingResponse:
        """Server-Sent Events: one `state_change` event per new alert, from any replica."""
        _check_fault(fault)
        sub = hub.subscribe(compound or None, fault or None)

        async def gen() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n: connected\n\n"
                while True:
                    try:
                        ev = await asyncio.wait_for(sub.queue.get(), timeout=15)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield b": keepalive\n\n"
                        continue
                    if ev is None:
                        return
                    data = json.dumps(ev, separators=(",", ":"))
                    yield f"id: {ev['seq']}\nevent: state_change\ndata: {data}\n\n".encode()
            finally:
                hub.unsubscribe(sub)

        return StreamingResponse(gen(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------ tickets
    def _tk_call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        try:
            with store.writing() as conn:
                return fn(conn, *args, **kw)
        except tk.TicketError as exc:
            raise _problem(exc.status, exc.message) from None

    def _ticket(tid: int) -> dict[str, Any]:
        with store.reading() as conn:
            try:
                return tk.ticket_dict(conn, tid, comments=True)
            except tk.TicketError as exc:
                raise _problem(exc.status, exc.message) from None

    @app.get("/v1/tickets", responses=_ERR, tags=["crews"])
    def list_tickets(
        compound: str | None = Query(None, max_length=64),
        status: str | None = Query(
            None, pattern="^(open|acknowledged|recovered|closed|active)$",
            description="'active' means any status but closed"),
        fault: str | None = Query(None, max_length=32),
        limit: int = Query(500, ge=1, le=5000),
        _who: Principal = Depends(auth.require("tickets_read")),
    ) -> Any:
        """Tickets, newest first; crews filter by compound."""
        _check_fault(fault)
        with store.reading() as conn:
            return tk.list_tickets(conn, compound=compound, status=status, fault=fault,
                                   limit=limit)

    @app.get("/v1/tickets.csv", tags=["crews"], response_class=Response,
             responses={**_ERR, 200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                      "description": "the tickets as CSV"}})
    def tickets_csv(
        compound: str | None = Query(None, max_length=64),
        status: str | None = Query(None, pattern="^(open|acknowledged|recovered|closed|active)$"),
        _who: Principal = Depends(auth.require("tickets_read")),
    ) -> Response:
        """All matching tickets as CSV (UTC ISO times), for spreadsheets and contractors."""
        with store.reading() as conn:
            rows = tk.list_tickets(conn, compound=compound, status=status, limit=10**7)
        return Response(tk.export_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="tickets.csv"'})

    @app.get("/v1/reports/maintenance", responses=_ERR, tags=["crews"])
    def maintenance(
        compound: str | None = Query(None, max_length=64),
        since: float | None = Query(None, ge=0, le=1e11,
                                    description="only tickets opened at/after (epoch s)"),
        _who: Principal = Depends(auth.require("tickets_read")),
    ) -> Any:
        """Per compound: open tickets, cameras down, mean time to acknowledge / repair."""
        with store.reading() as conn:
            return tk.maintenance_report(conn, compound, since)

    @app.get("/v1/tickets/{ticket_id}", responses={**_ERR, 404: {"model": Problem}},
             tags=["crews"])
    def get_ticket(ticket_id: RowId,
                   _who: Principal = Depends(auth.require("tickets_read"))) -> Any:
        return _ticket(ticket_id)

    _w = {**_ERR, 404: {"model": Problem}, 409: {"model": Problem}}

    @app.post("/v1/tickets/{ticket_id}/ack", responses=_w, tags=["crews"])
    def ack_ticket(ticket_id: RowId,
                   who: Principal = Depends(auth.require("tickets_write"))) -> Any:
        """Acknowledge: someone is on it (starts nothing, but measures time to acknowledge)."""
        _tk_call(tk.acknowledge, ticket_id, who.subject)
        return _ticket(ticket_id)

    @app.post("/v1/tickets/{ticket_id}/assign", responses=_w, tags=["crews"])
    def assign_ticket(ticket_id: RowId, body: AssignBody,
                      who: Principal = Depends(auth.require("tickets_write"))) -> Any:
        _tk_call(tk.assign, ticket_id, body.assignee)
        return _ticket(ticket_id)

    @app.post("/v1/tickets/{ticket_id}/comments", responses=_w, tags=["crews"])
    def comment_ticket(ticket_id: RowId, body: CommentBody,
                       who: Principal = Depends(auth.require("tickets_write"))) -> Any:
        _tk_call(tk.comment, ticket_id, who.subject, body.body)
        return _ticket(ticket_id)

    @app.post("/v1/tickets/{ticket_id}/close", responses=_w, tags=["crews"])
    def close_ticket(ticket_id: RowId, body: CloseBody,
                     who: Principal = Depends(auth.require("tickets_write"))) -> Any:
        """Close after repair; `reset_baseline` queues a command for the camera's agent."""
        cmd = _tk_call(lambda c: tk.close(c, cfg, ticket_id, who.subject, note=body.note,
                                          reset_baseline=body.reset_baseline))
        out = _ticket(ticket_id)
        out["command_id"] = cmd
        return out

    @app.get("/v1/webhooks/deliveries", responses=_ERR, tags=["admin"])
    def webhook_log(status: str | None = Query(None, pattern="^(pending|delivered|failed)$"),
                    limit: int = Query(200, ge=1, le=5000),
                    _who: Principal = Depends(auth.require("admin"))) -> Any:
        """Delivery log: attempts, last HTTP status and error per webhook delivery."""
        q = select(webhook_deliveries.c.id, webhook_deliveries.c.event,
                   webhook_deliveries.c.ticket_id, webhook_deliveries.c.url,
                   webhook_deliveries.c.status, webhook_deliveries.c.attempts,
                   webhook_deliveries.c.last_status, webhook_deliveries.c.last_error,
                   webhook_deliveries.c.created_at, webhook_deliveries.c.delivered_at,
                   webhook_deliveries.c.next_attempt_at)
        if status:
            q = q.where(webhook_deliveries.c.status == status)
        with store.reading() as conn:
            rows = [dict(r) for r in conn.execute(
                q.order_by(webhook_deliveries.c.id.desc()).limit(limit)).mappings()]
        for r in rows:  # credentials in a webhook URL are for delivering, not for showing
            r["url"] = mask_url(r["url"])
            if r["last_error"]:
                r["last_error"] = mask_url(r["last_error"])
        return rows

    # ------------------------------------------------------------------ metrics
    @app.get("/metrics", responses=_ERR, tags=["admin"], response_class=PlainTextResponse)
    def prometheus(_who: Principal = Depends(auth.require("metrics"))) -> Response:
        """Prometheus exposition; scrape with a bearer token of role operator or admin."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # ------------------------------------------------------------------ session + pages
    @app.get("/healthz", tags=["admin"])
    def healthz() -> Any:
        """Liveness for load balancers; unauthenticated and reveals nothing."""
        return {"ok": True}

    @app.get("/v1/meta", responses=_ERR, tags=["pages"])
    def meta(request: Request,
             creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> Any:
        """Fault, state and severity names, so the pages never hard-code the contract."""
        if auth.principal(request, creds) is None:
            raise _problem(401, "not signed in", {"WWW-Authenticate": "Bearer"})
        return {"faults": list(FAULTS), "states": list(STATES), "severities": list(SEVERITIES),
                "contract_version": CONTRACT_VERSION}

    @app.post("/v1/session", responses=_ERR, tags=["pages"])
    def login(body: SessionBody, request: Request) -> Any:
        """Exchange a person's token for a server-side session (HttpOnly cookie, expiring).

        The cookie holds a random session id, never the token: logout ends the session
        on every replica, and a copied cookie dies with the session.
        """
        if "origin" in request.headers:  # a browser: only our own login page may sign in
            auth.check_origin(request)
        with store.reading() as conn:
            p = lookup(conn, body.token.strip())
        if p is None:
            raise _problem(401, "token not recognised, revoked or expired")
        if p.role == "agent":
            raise _problem(403, "agent tokens cannot open the pages; use an operator, crew "
                           "or admin token")
        with store.writing() as conn:
            sid, expires = create_session(conn, p.token_id, cfg.session_hours * 3600)
        resp = JSONResponse({"subject": p.subject, "role": p.role, "expires_at": expires})
        resp.set_cookie(COOKIE, sid, httponly=True, samesite="strict",
                        secure=cfg.secure_cookies, max_age=max(1, round(expires - time.time())),
                        path="/")
        return resp

    @app.post("/v1/session/logout", tags=["pages"])
    def logout(request: Request) -> Any:
        """End the session in the database (every replica), then drop the cookie."""
        sid = request.cookies.get(COOKIE)
        if sid is not None:
            auth.check_origin(request)
            with store.writing() as conn:
                end_session(conn, sid.strip())
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/v1/whoami", responses=_ERR, tags=["pages"])
    def whoami(request: Request,
               creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> Any:
        p = auth.principal(request, creds)
        if p is None:
            raise _problem(401, "not signed in", {"WWW-Authenticate": "Bearer"})
        return {"subject": p.subject, "role": p.role,
                "permissions": sorted(PERMISSIONS.get(p.role, ()))}

    def _page(name: str, permission: str) -> Callable[..., Response]:
        def handler(request: Request) -> Response:
            try:
                p = auth.principal(request, None)
            except HTTPException:
                p = None
            if p is None:
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            if not p.can(permission):
                return Response(
                    f"<!doctype html><title>Forbidden</title><p>Your role ({p.role}) cannot "
                    f"open this page.</p><p><a href=\"/login\">Sign in as someone else</a></p>",
                    status_code=403, media_type="text/html")
            return FileResponse(STATIC_DIR / name, media_type="text/html")

        return handler

    app.get("/dashboard", include_in_schema=False)(_page("dashboard.html", "view"))
    app.get("/board", include_in_schema=False)(_page("board.html", "tickets_read"))

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> Response:
        """Swagger UI from the collector's own files (no CDN, no inline script)."""
        return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        """ReDoc from the collector's own files. Its styling library (styled-components)
        can only style through <style> elements, so this one page, which shows the public
        OpenAPI and no data, also allows inline styles; scripts stay 'self' only."""
        return FileResponse(STATIC_DIR / "redoc.html", media_type="text/html", headers={
            "Content-Security-Policy": CSP.replace("style-src 'self'",
                                                   "style-src 'self' 'unsafe-inline'")})

    @app.get("/login", include_in_schema=False)
    def login_page() -> Response:
        return FileResponse(STATIC_DIR / "login.html", media_type="text/html")

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        try:
            p = auth.principal(request, None)
        except HTTPException:
            p = None
        if p is not None and p.role == "crew":
            return RedirectResponse("/board", status_code=303)
        return RedirectResponse("/dashboard", status_code=303)

    return app


def create_app_from_env() -> FastAPI:
    """App factory for uvicorn's multi-process mode (`lenswatch collector --workers N`).

    Each worker process reads the same settings from the environment the parent prepared;
    the parent has already migrated the database.
    """
    import os

    from collector.cli import _settle_heap
    from collector.config import load_config

    cfg = load_config(os.environ.get("LENSWATCH_COLLECTOR_CONFIG") or None,
                      db=os.environ["LENSWATCH_DB"])
    app = create_app(cfg, run_migrations=False)
    _settle_heap()
    return app

