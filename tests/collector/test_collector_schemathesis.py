"""Property-based run of the published OpenAPI against the app: every answer conforms to it.

What is checked, per generated request (schemathesis's response-conformance checks, not only
"no 5xx"):

- ``not_a_server_error``: no 5xx for any input;
- ``status_code_conformance``: the status is one the operation declares;
- ``content_type_conformance``: the Content-Type is one declared for that status;
- ``response_schema_conformance``: the JSON body validates against the declared schema;
- ``response_headers_conformance``: headers the operation declares as required are present
  and match their schema.

100 generated requests per operation (``MAX_EXAMPLES``), 25 operations: about 25 s on one
busy core (measured 2026-12-05 beside a benchmark), well inside a few minutes of CI.

Runs on SQLite through the ASGI interface (schemathesis drives the app's lifespan), with real
tokens so requests get past authentication and exercise the handlers. A failure here means
the collector or its OpenAPI declaration is wrong: fix that, never drop a check.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from collector_helpers import make_tokens
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.app import create_app
from collector.config import load_config
from collector.store import open_store

#: Generated requests per operation (stated in the module docstring; keep the two in step).
MAX_EXAMPLES = 100
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]

_tmp = Path(tempfile.mkdtemp(prefix="lw-schemathesis-"))
_cfg = load_config(None, db=f"sqlite:///{_tmp / 'c.db'}", sweep_interval_seconds=0)
_store = open_store(_cfg.db)
_app = create_app(_cfg, store=_store)
TOKENS = make_tokens(_store)

# The live stream never ends by design; it is covered by the replica and browser tests.
schema = schemathesis.openapi.from_asgi("/openapi.json", _app).exclude(path="/v1/stream")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          database=None)
def test_responses_conform_to_openapi(case):
    agent_route = case.path == "/v1/events" or case.path.startswith("/v1/agents/{agent}")
    token = TOKENS["agent"] if agent_route else TOKENS["admin"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
