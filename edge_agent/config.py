"""Typed, strict settings for one agent: a wrong key fails at start-up, not at 3 a.m.

Every error names the file, the key (as a dotted path, or CSV row and column) and the fix, so
whoever edits a compound's config on site can correct it without reading code. Credentials are
never written in the file itself: ``${ENV_VAR}`` and ``${file:/run/secrets/name}`` placeholders
are resolved here and every resolved value is registered for redaction.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import os
import re
from dataclasses import dataclass, field, replace
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from contract import FAULTS, PICTURE_FAULTS, STREAM_FAULTS
from edge_agent.redact import register_secret

MODES = ("auto", "continuous", "patrol")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
DEFAULT_FAULTS: tuple[str, ...] = STREAM_FAULTS + PICTURE_FAULTS


class ConfigError(ValueError):
    """A config problem, phrased as: where (file, key), what is wrong, and how to fix it."""

    def __init__(self, file: str | os.PathLike[str], key: str, problem: str, fix: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.file}: {key}: {problem}. Fix: {fix}")


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """A daily window (box-local clock) in which a camera is expected to be down or odd."""

    start: dtime
    end: dtime

    def contains(self, t: dtime) -> bool:
        """Whether `t` is inside; a window may wrap past midnight (23:50-00:10)."""
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """One camera; `key` ("compound/camera") is the id on the wire and in metric labels."""

    compound: str
    id: str
    url: str
    name: str = ""
    location: str = ""
    substream: str | None = None
    sample_interval: float = 2.0
    faults: tuple[str, ...] = DEFAULT_FAULTS
    quiet: tuple[QuietWindow, ...] = ()
    signal_loss_grace: float = 20.0
    open_timeout: float = 5.0
    read_timeout: float = 5.0

    @property
    def key(self) -> str:
        return f"{self.compound}/{self.id}"

    @property
    def analysis_url(self) -> str:
        """The substream when configured: it is cheaper to decode and ample for health checks."""
        return self.substream or self.url


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    url: str
    token: str = field(repr=False)
    batch_size: int = 100
    timeout: float = 10.0
    retry_initial: float = 1.0
    retry_max: float = 60.0
    poll_commands: float = 30.0


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    path: str
    max_events: int = 100_000
    heartbeat_interval: float = 30.0
    keep_heartbeats: int = 10


@dataclass(frozen=True, slots=True)
class AgentConfig:
    agent_id: str
    collector: CollectorConfig
    outbox: OutboxConfig
    cameras: tuple[CameraConfig, ...]
    mode: str = "auto"
    max_open_streams: int = 64
    patrol_workers: int = 4
    metrics_listen: str = "127.0.0.1:9108"
    log_level: str = "INFO"
    source_file: str = ""


# --- schema ------------------------------------------------------------------------------

_SECTION_KEYS: dict[str, dict[str, str]] = {
    "": {"agent": "mapping", "collector": "mapping", "outbox": "mapping",
         "defaults": "mapping", "cameras": "list", "cameras_csv": "str"},
    "agent": {"id": "str", "mode": "str", "max_open_streams": "int", "patrol_workers": "int",
              "metrics_listen": "str", "log_level": "str", "data_dir": "str"},
    "collector": {"url": "str", "token": "str", "token_file": "str", "batch_size": "int",
                  "timeout": "float", "retry_initial": "float", "retry_max": "float",
                  "poll_commands": "float"},
    "outbox": {"path": "str", "max_events": "int", "heartbeat_interval": "float",
               "keep_heartbeats": "int"},
    "defaults": {"sample_interval": "float", "faults": "list", "quiet": "list",
                 "signal_loss_grace": "float", "open_timeout": "float",
                 "read_timeout": "float"},
}
_CAMERA_KEYS: dict[str, str] = {
    "compound": "str", "id": "str", "name": "str", "location": "str", "url": "str",
    "substream": "str", **_SECTION_KEYS["defaults"],
}
_CSV_COLUMNS = {"compound", "camera", "name", "location", "url", "substream",
                "sample_interval", "faults", "quiet", "signal_loss_grace"}
_REQUIRED_CSV = ("compound", "camera", "url")


def _suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{hint}allowed keys here: {', '.join(sorted(allowed))}"


class _Ctx:
    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(self.file, key, problem, fix)

    def check_keys(self, where: str, data: dict[str, Any], allowed: dict[str, str]) -> None:
        for k in data:
            if k not in allowed:
                dotted = f"{where}.{k}" if where else str(k)
                raise self.fail(dotted, "unknown key", _suggest(str(k), list(allowed)))

    def typed(self, key: str, value: Any, kind: str) -> Any:
        if kind == "str":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.fail(key, f"expected text, got {type(value).__name__}",
                                "write a quoted string")
            return str(value)
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(key, f"expected a whole number, got {value!r}",
                                "write an integer such as 64")
            if value <= 0:
                raise self.fail(key, f"must be positive, got {value}", "use a number > 0")
            return value
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(key, f"expected a number of seconds, got {value!r}",
                                "write a number such as 2 or 0.5")
            if value <= 0:
                raise self.fail(key, f"must be positive, got {value}", "use a number > 0")
            return float(value)
        if kind == "list":
            if not isinstance(value, list):
                raise self.fail(key, f"expected a list, got {type(value).__name__}",
                                "write a YAML list, e.g. [a, b]")
            return value
        if kind == "mapping":
            if not isinstance(value, dict):
                raise self.fail(key, f"expected a mapping, got {type(value).__name__}",
                                "indent the keys of this section under it")
            return value
        raise AssertionError(kind)

    def resolve(self, key: str, value: str, *, secret: bool) -> str:
        """Expand ${ENV} and ${file:PATH}; resolved values in secret fields are registered."""

        def sub(m: re.Match[str]) -> str:
            ref = m.group(1).strip()
            if ref.startswith("file:"):
                path = Path(ref[5:])
                if not path.is_absolute():
                    path = self.file.parent / path
                try:
                    val = path.read_text().strip()
                except OSError as exc:
                    raise self.fail(key, f"cannot read secret file {path} ({exc.strerror})",
                                    "create the file or fix its path") from None
            else:
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ref):
                    raise self.fail(key, f"bad placeholder ${{{ref}}}",
                                    "use ${ENV_VAR} or ${file:/path/to/secret}")
                if ref not in os.environ:
                    raise self.fail(key, f"environment variable {ref} is not set",
                                    f"export {ref}=... before starting the agent")
                val = os.environ[ref]
            register_secret(val)
            return val

        out = _PLACEHOLDER.sub(sub, value)
        if secret and "://" in out:
            with contextlib.suppress(ValueError):
                register_secret(urlsplit(out).password)
        return out


def _parse_quiet(ctx: _Ctx, key: str, items: list[Any]) -> tuple[QuietWindow, ...]:
    out = []
    for i, item in enumerate(items):
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(item))
        if not m:
            raise ctx.fail(f"{key}[{i}]", f"cannot read quiet window {item!r}",
                           "write it as HH:MM-HH:MM, e.g. 03:00-03:15")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ctx.fail(f"{key}[{i}]", f"no such time in {item!r}", "use 00:00 to 23:59")
        out.append(QuietWindow(dtime(h1, m1), dtime(h2, m2)))
    return tuple(out)


def _parse_faults(ctx: _Ctx, key: str, items: list[Any]) -> tuple[str, ...]:
    for i, f in enumerate(items):
        if f not in FAULTS:
            raise ctx.fail(f"{key}[{i}]", f"unknown fault {f!r}",
                           _suggest(str(f), list(FAULTS)).replace("keys", "faults"))
    return tuple(dict.fromkeys(items))


def _url_check(ctx: _Ctx, key: str, url: str) -> None:
    if "://" not in url and not Path(url).suffix:
        raise ctx.fail(key, "does not look like a stream URL or video file",
                       "use rtsp://user:${CAM_PASS}@host:554/path or a file path")


def _camera(ctx: _Ctx, where: str, raw: dict[str, Any], defaults: dict[str, Any]
            ) -> CameraConfig:
    ctx.check_keys(where, raw, _CAMERA_KEYS)
    vals: dict[str, Any] = {}
    merged = {**defaults, **raw}
    for k, v in merged.items():
        kind = _CAMERA_KEYS[k]
        key = f"{where}.{k}"
        v = ctx.typed(key, v, kind)
        if k == "faults":
            v = _parse_faults(ctx, key, v)
        elif k == "quiet":
            v = _parse_quiet(ctx, key, v)
        elif k in ("url", "substream"):
            v = ctx.resolve(key, v, secret=True)
            _url_check(ctx, key, v)
        vals[k] = v
    for req in ("compound", "id", "url"):
        if req not in vals:
            raise ctx.fail(f"{where}.{req}", "missing", f"give every camera a '{req}'")
    for k in ("compound", "id"):
        if not _NAME.match(vals[k]):
            raise ctx.fail(f"{where}.{k}", f"{vals[k]!r} is not a valid name",
                           "use letters, digits, '_', '.', '-' (max 64), e.g. c0417 / cam03")
    return CameraConfig(**vals)


def _csv_cameras(ctx: _Ctx, path: Path, defaults: dict[str, Any]) -> list[CameraConfig]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ctx.fail("cameras_csv", f"cannot read {path} ({exc.strerror})",
                       "fix the path (relative paths are relative to the config file)") from None
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    cols = reader.fieldnames or []
    sub = _Ctx(path)
    for c in cols:
        if c not in _CSV_COLUMNS:
            raise sub.fail(f"header column '{c}'", "unknown column",
                           _suggest(c, sorted(_CSV_COLUMNS)).replace("keys", "columns"))
    for req in _REQUIRED_CSV:
        if req not in cols:
            raise sub.fail("header", f"column '{req}' is missing",
                           f"add a '{req}' column (required: {', '.join(_REQUIRED_CSV)})")
    cams = []
    for lineno, row in enumerate(reader, start=2):
        raw: dict[str, Any] = {}
        for col, val in row.items():
            if col is None:
                raise sub.fail(f"row {lineno}", "more cells than header columns",
                               "quote cells that contain commas")
            val = (val or "").strip()
            if not val:
                continue
            key = "id" if col == "camera" else col
            if key in ("faults", "quiet"):
                raw[key] = [x.strip() for x in val.split(";") if x.strip()]
            elif key in ("sample_interval", "signal_loss_grace"):
                try:
                    raw[key] = float(val)
                except ValueError:
                    raise sub.fail(f"row {lineno} column '{col}'", f"{val!r} is not a number",
                                   "write seconds, e.g. 2") from None
            else:
                raw[key] = val
        cams.append(_camera(sub, f"row {lineno}", raw, defaults))
    return cams


def load_config(path: str | os.PathLike[str]) -> AgentConfig:
    """Read, validate and resolve an agent config; raises ConfigError naming key and fix."""
    file = Path(path)
    ctx = _Ctx(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ctx.fail("(file)", f"cannot read ({exc.strerror})",
                       "pass --config with the path of an existing YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ctx.fail(where, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                       "fix the indentation or quoting at that line") from None
    if not isinstance(data, dict):
        raise ctx.fail("(top level)", "expected a mapping of sections",
                       "start from config/edge.yaml")
    ctx.check_keys("", data, _SECTION_KEYS[""])
    sections: dict[str, dict[str, Any]] = {}
    for sec in ("agent", "collector", "outbox", "defaults"):
        raw = ctx.typed(sec, data.get(sec, {}) or {}, "mapping")
        ctx.check_keys(sec, raw, _SECTION_KEYS[sec])
        sections[sec] = {k: ctx.typed(f"{sec}.{k}", v, _SECTION_KEYS[sec][k])
                         for k, v in raw.items()}
    agent = sections["agent"]
    if "id" not in agent:
        raise ctx.fail("agent.id", "missing", "name this agent, e.g. id: c0417-edge01")
    if not _NAME.match(agent["id"]):
        raise ctx.fail("agent.id", f"{agent['id']!r} is not a valid name",
                       "use letters, digits, '_', '.', '-'")
    mode = agent.get("mode", "auto")
    if mode not in MODES:
        raise ctx.fail("agent.mode", f"unknown mode {mode!r}", f"use one of {', '.join(MODES)}")
    level = agent.get("log_level", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ctx.fail("agent.log_level", f"unknown level {level!r}",
                       "use DEBUG, INFO, WARNING or ERROR")
    listen = agent.get("metrics_listen", "127.0.0.1:9108")
    if not re.fullmatch(r"[^:\s]+:\d{1,5}", listen):
        raise ctx.fail("agent.metrics_listen", f"{listen!r} is not HOST:PORT",
                       "write e.g. 127.0.0.1:9108 (port 0 picks a free one)")
    data_dir = Path(agent.get("data_dir", "var/agent"))
    if not data_dir.is_absolute():
        data_dir = file.parent / data_dir

    col = sections["collector"]
    if "url" not in col:
        raise ctx.fail("collector.url", "missing", "give the collector's base URL")
    col_url = ctx.resolve("collector.url", col.pop("url"), secret=False)
    if not col_url.startswith(("http://", "https://")):
        raise ctx.fail("collector.url", "must be http:// or https://",
                       "write e.g. https://collector.example:8000")
    if "token" in col and "token_file" in col:
        raise ctx.fail("collector.token_file", "both token and token_file are set",
                       "keep only one of them")
    if "token_file" in col:
        tok = ctx.resolve("collector.token_file", "${file:" + col.pop("token_file") + "}",
                          secret=True)
    elif "token" in col:
        raw_tok = col.pop("token")
        if "${" not in raw_tok:
            raise ctx.fail("collector.token", "a literal token in the config file",
                           "write token: ${LENSWATCH_TOKEN} or use token_file")
        tok = ctx.resolve("collector.token", raw_tok, secret=True)
    else:
        raise ctx.fail("collector.token", "missing",
                       "set token: ${LENSWATCH_TOKEN} or token_file: /run/secrets/...")
    register_secret(tok)
    collector = CollectorConfig(url=col_url.rstrip("/"), token=tok, **col)

    ob = sections["outbox"]
    ob_path = Path(ob.pop("path", str(data_dir / "outbox.sqlite")))
    if not ob_path.is_absolute():
        ob_path = file.parent / ob_path
    outbox = OutboxConfig(path=str(ob_path), **ob)

    defaults = sections["defaults"]
    # Check defaults under their own keys, so an error points at "defaults.*", not a camera.
    _parse_faults(ctx, "defaults.faults", defaults.get("faults", []))
    _parse_quiet(ctx, "defaults.quiet", defaults.get("quiet", []))
    cams_raw = ctx.typed("cameras", data.get("cameras", []) or [], "list")
    cams: list[CameraConfig] = []
    for i, raw in enumerate(cams_raw):
        ctx.typed(f"cameras[{i}]", raw, "mapping")
        cams.append(_camera(ctx, f"cameras[{i}]", raw, defaults))
    if "cameras_csv" in data:
        csv_path = Path(ctx.typed("cameras_csv", data["cameras_csv"], "str"))
        if not csv_path.is_absolute():
            csv_path = file.parent / csv_path
        cams.extend(_csv_cameras(ctx, csv_path, defaults))
    if not cams:
        raise ctx.fail("cameras", "no cameras", "list cameras inline or set cameras_csv")
    seen: set[str] = set()
    for c in cams:
        if c.key in seen:
            raise ctx.fail("cameras", f"camera {c.key} is listed twice",
                           "give each camera a unique compound/id")
        seen.add(c.key)
        if c.read_timeout * 2 >= c.signal_loss_grace:
            raise ctx.fail(f"camera {c.key}: signal_loss_grace",
                           f"grace {c.signal_loss_grace}s is not longer than twice the read "
                           f"timeout ({c.read_timeout}s), so a hung camera cannot be told "
                           "from a slow one", "raise signal_loss_grace or lower read_timeout")
    return AgentConfig(
        agent_id=agent["id"], collector=collector, outbox=outbox, cameras=tuple(cams),
        mode=mode, max_open_streams=agent.get("max_open_streams", 64),
        patrol_workers=agent.get("patrol_workers", 4), metrics_listen=listen,
        log_level=level, source_file=str(file),
    )


def with_cameras(cfg: AgentConfig, cameras: list[CameraConfig]) -> AgentConfig:
    """A copy with another camera list (used by benchmarks and tests)."""
    return replace(cfg, cameras=tuple(cameras))
