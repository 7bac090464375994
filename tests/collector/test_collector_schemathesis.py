"""Property-based run of the published OpenAPI against the app: no input gives a 5xx.

Runs on SQLite through the ASGI interface (schemathesis drives the app's lifespan), with real
tokens so requests get past authentication and exercise the handlers.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from collector_helpers import make_tokens
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from collector.app import create_app
from collector.config import load_config
from collector.store import open_store

_tmp = Path(tempfile.mkdtemp(prefix="lw-schemathesis-"))
_cfg = load_config(None, db=f"sqlite:///{_tmp / 'c.db'}", sweep_interval_seconds=0)
_store = open_store(_cfg.db)
_app = create_app(_cfg, store=_store)
TOKENS = make_tokens(_store)

# The live stream never ends by design; it is covered by the replica and browser tests.
schema = schemathesis.openapi.from_asgi("/openapi.json", _app).exclude(path="/v1/stream")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors(case):
    agent_route = case.path == "/v1/events" or case.path.startswith("/v1/agents/{agent}")
    token = TOKENS["agent"] if agent_route else TOKENS["admin"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                           checks=[not_a_server_error])
