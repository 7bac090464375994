"""Typed collector settings, validated at start-up.

Settings come from an optional YAML file plus command-line/env overrides. A typo in the file
must stop the collector with a message naming the file, the key and the fix, rather than
silently running with a default the operator did not intend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_DATA_DIR = "data"


class ConfigError(Exception):
    """A configuration problem worth showing to the operator verbatim."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LimitsConfig(_Strict):
    """Ingest limits: the collector faces 636 agents, so one bad agent must not hurt the rest."""

    max_body_bytes: int = Field(2_000_000, ge=1024)
    max_batch_events: int = Field(1000, ge=1, le=10_000)
    max_snapshot_bytes: int = Field(256_000, ge=0, description="decoded JPEG bytes")
    max_evidence_bytes: int = Field(4096, ge=64)
    max_evidence_depth: int = Field(8, ge=1, le=64, description="nesting levels of evidence")
    # The clock rule (contract.wire.effective_time): no stamp is refused for these two; they
    # only decide when the collector times an event by its receipt instead of its stamp.
    max_future_skew_seconds: float = Field(300.0, ge=0, description="allowed clock skew")
    max_age_days: float = Field(30.0, gt=0, description="older stamps from an agent that does"
                                " not send its send time are timed by receipt")


class TicketConfig(_Strict):
    """When faults become crew work, and when the work is considered done."""

    open_after_seconds: float = Field(300.0, ge=0)
    auto_close_after_seconds: float | None = Field(
        3600.0, ge=0, description="close a recovered ticket after it stayed clear this long; null"
        " means a crew member must verify and close it"
    )


class WebhookConfig(_Strict):
    url: str
    secret: str = Field(min_length=16)
    events: list[str] = Field(default_factory=lambda: ["opened", "recovered", "closed"])
    max_attempts: int = Field(8, ge=1, le=50)

    @field_validator("url")
    @classmethod
    def _http_only(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        return v

    @field_validator("events")
    @classmethod
    def _known_events(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - {"opened", "recovered", "closed"})
        if bad:
            raise ValueError(f"unknown webhook events {bad}; use opened, recovered, closed")
        return v


class CollectorConfig(_Strict):
    """Everything the collector process needs; one instance per process."""

    db: str | None = None
    agent_silent_after_seconds: float = Field(120.0, gt=0)
    sweep_interval_seconds: float = Field(
        5.0, ge=0, description="ticket/silence sweeper period; 0 disables it (tests drive it)"
    )
    stream_poll_seconds: float = Field(0.3, gt=0)
    webhook_poll_seconds: float = Field(1.0, gt=0)
    heartbeat_retention_days: float = Field(7.0, gt=0)
    picture_retention_days: float = Field(
        30.0, gt=0, description="event snapshots and camera reference pictures (personal data"
        " of the residents) are deleted this long after the collector received them"
    )
    picture_sweep_seconds: float = Field(
        600.0, gt=0, description="how often the retention sweep runs (with the ticket sweeper;"
        " off when sweep_interval_seconds is 0)"
    )
    auth_cache_seconds: float = Field(
        2.0, ge=0, le=60, description="how long a verified token is trusted without a DB"
        " lookup; also the longest a revoked token keeps working (0 = look up every time)"
    )
    secure_cookies: bool = False
    session_hours: float = Field(
        12.0, gt=0, le=720, description="a browser session ends this long after sign-in "
        "(sooner if its token expires or is revoked, or at logout)"
    )
    trusted_origins: list[str] = Field(
        default_factory=list, description="origins besides the collector's own (as the browser"
        " sees it, e.g. https://lenswatch.example behind a TLS proxy) whose pages may make "
        "cookie-authenticated changes"
    )
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    tickets: TicketConfig = Field(default_factory=TicketConfig)
    webhooks: list[WebhookConfig] = Field(default_factory=list)


def default_db_url() -> str:
    """SQLite under the data dir, so a first run needs no setup at all."""
    env = os.environ.get("LENSWATCH_DB")
    if env:
        return env
    data = Path(os.environ.get("LENSWATCH_DATA", DEFAULT_DATA_DIR))
    data.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data / 'collector.db').resolve()}"


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> CollectorConfig:
    """Read YAML (if given), apply overrides, validate; errors name file, key and fix."""
    raw: dict[str, Any] = {}
    where = "settings"
    if path is not None:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read config file ({exc.strerror})") from exc
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: top level must be a mapping of keys, not {type(raw)}")
        if isinstance(raw.get("collector"), dict) and len(raw) == 1:
            raw = raw["collector"]
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = CollectorConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key; check the spelling against docs/collector.md"
            lines.append(f"{where}: key '{key}': {msg}")
        raise ConfigError("\n".join(lines)) from None
    if cfg.db is None:
        cfg.db = default_db_url()
    return cfg
