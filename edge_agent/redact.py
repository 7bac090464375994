"""Keep credentials out of every log line, metric label, event and page the agent produces.

Masking URLs where we format them is not enough: FFmpeg, httpx and tracebacks quote raw URLs
and headers in their own messages. So every secret the config resolves is registered here, and
a logging filter scrubs registered values (and any ``user:password@`` in a URL) from every
record before a handler sees it. `scrub` is also applied to anything the agent sends upstream.
"""

from __future__ import annotations

import logging
import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@:\s]*):[^/@\s]*@")
MASK = "***"


def register_secret(value: str | None) -> None:
    """Remember a resolved secret so it is scrubbed wherever it might later appear."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """Text with every registered secret and every URL password replaced by ***."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message, scrubs it, and freezes the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            msg = str(record.msg)
        record.msg = scrub(msg)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def install_log_redaction() -> None:
    """Attach the filter to every root handler so third-party loggers are covered too."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
