"""Pictures are personal data: retention of snapshots and reference pictures, and the audit log.

Against the real collector app on SQLite and PostgreSQL (the `db_url` fixture parametrises
both). A picture's age is set by moving its receipt time back in the database: the API cannot
send a picture "31 days ago", and the sweep must count from the collector's receipt anyway.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from collector_helpers import iso, state_change
from sqlalchemy import create_engine, select, text, update

from collector.schema import cameras, events
from collector.store import alembic_config, open_store

DAY = 86400.0


def jpeg(n: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes([n]) * 64 + b"\xff\xd9"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def heartbeat(refs: dict[str, bytes]) -> dict:
    now = iso(time.time())
    return {"kind": "heartbeat", "event_id": str(uuid.uuid4()), "agent": "c0417", "t": now,
            "cameras": {c: {"status": "ok", "faults": [], "last_frame": now,
                            "reference": b64(ref)} for c, ref in refs.items()}}


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_background_sweep_deletes_pictures_past_retention_keeps_newer(make_env):
    # The real background loop (sweep_interval_seconds > 0), retention 30 days (the default,
    # stated so the test says what it checks).
    env = make_env(sweep_interval_seconds=0.05, picture_sweep_seconds=0.05,
                   picture_retention_days=30)
    old_ev = state_change("c0417/cam01", snapshot=b64(jpeg(1)))
    new_ev = state_change("c0417/cam02", snapshot=b64(jpeg(2)))
    r = env.post([old_ev, new_ev, heartbeat({"c0417/cam01": jpeg(3), "c0417/cam02": jpeg(4)})])
    assert len(r.json()["accepted"]) == 3, r.text
    # cam01's snapshot and reference were received 31 days ago, cam02's 29 days ago.
    with env.store.writing() as conn:
        for cam, age in (("c0417/cam01", 31 * DAY), ("c0417/cam02", 29 * DAY)):
            conn.execute(update(events).where(events.c.camera == cam)
                         .values(received_at=events.c.received_at - age))
            conn.execute(update(cameras).where(cameras.c.id == cam)
                         .values(reference_at=cameras.c.reference_at - age))

    def snapshot(ev: dict) -> int:
        return env.client.get(f"/v1/events/{ev['event_id']}/snapshot",
                              headers=env.h("operator")).status_code

    def reference(cam: str) -> int:
        return env.client.get("/v1/reference", params={"camera": cam},
                              headers=env.h("operator")).status_code

    assert wait_for(lambda: snapshot(old_ev) == 404 and reference("c0417/cam01") == 404), \
        "the background sweep did not delete the pictures past retention"
    assert snapshot(new_ev) == 200 and reference("c0417/cam02") == 200
    with env.store.reading() as conn:
        # The picture is deleted, not the event: fault history and tickets stay whole.
        rows = dict(conn.execute(select(events.c.event_id, events.c.snapshot).where(
            events.c.event_id.in_([old_ev["event_id"], new_ev["event_id"]]))).all())
        ref = conn.execute(select(cameras.c.reference_image, cameras.c.reference_at).where(
            cameras.c.id == "c0417/cam01")).one()
    assert rows == {old_ev["event_id"]: None, new_ev["event_id"]: b64(jpeg(2))}
    assert tuple(ref) == (None, None)


def test_sweep_honours_configured_retention(make_env):
    env = make_env(picture_retention_days=2)
    ev = state_change("c0417/cam01", snapshot=b64(jpeg(1)))
    env.post([ev, heartbeat({"c0417/cam01": jpeg(3)})])
    sweep = env.app.state.sweep_pictures
    assert sweep(time.time() + 1.9 * DAY) == {"snapshots_deleted": 0, "references_deleted": 0}
    assert sweep(time.time() + 2.1 * DAY) == {"snapshots_deleted": 1, "references_deleted": 1}
    # A new reference after the sweep is kept again from its own receipt.
    env.post([heartbeat({"c0417/cam01": jpeg(5)})])
    assert env.client.get("/v1/reference", params={"camera": "c0417/cam01"},
                          headers=env.h("operator")).content == jpeg(5)


def test_viewing_a_picture_writes_one_audit_row_with_the_viewer(env):
    ev = state_change("c0417/cam03", snapshot=b64(jpeg(7)))
    assert len(env.post([ev, heartbeat({"c0417/cam03": jpeg(8)})]).json()["accepted"]) == 2
    t0 = time.time()
    r = env.client.get(f"/v1/events/{ev['event_id']}/snapshot", headers=env.h("operator"))
    assert r.status_code == 200 and r.content == jpeg(7)
    # Not kept by the browser: every view comes back to the collector and is audited.
    assert r.headers["cache-control"] == "no-store"

    log = env.client.get("/v1/audit/pictures", headers=env.h("admin"))
    assert log.status_code == 200, log.text
    (row,) = log.json()
    assert row["subject"] == "operator1" and row["role"] == "operator"
    assert row["via"] == "bearer" and row["kind"] == "snapshot"
    assert row["camera"] == "c0417/cam03" and row["event_id"] == ev["event_id"]
    assert t0 - 1 <= row["at"] <= time.time() + 1
    assert row["picture_at"] == pytest.approx(t0, abs=60)

    # The crew board / dashboard image URL with a browser session: audited as the session's
    # person. A picture that is not there is not a view.
    s = env.client.post("/v1/session", json={"token": env.tokens["crew"]})
    assert s.status_code == 200, s.text
    r = env.client.get("/v1/reference", params={"camera": "c0417/cam03"})
    assert r.status_code == 200 and r.content == jpeg(8)
    env.client.cookies.clear()
    assert env.client.get(f"/v1/events/{uuid.uuid4()}/snapshot",
                          headers=env.h("operator")).status_code == 404
    rows = env.client.get("/v1/audit/pictures", headers=env.h("admin")).json()
    assert len(rows) == 2
    assert {k: rows[0][k] for k in ("subject", "role", "via", "kind", "camera", "event_id")} \
        == {"subject": "crew1", "role": "crew", "via": "session", "kind": "reference",
            "camera": "c0417/cam03", "event_id": None}
    only = env.client.get("/v1/audit/pictures", params={"subject": "operator1"},
                          headers=env.h("admin")).json()
    assert [x["kind"] for x in only] == ["snapshot"]


@pytest.mark.parametrize("role", ["operator", "crew", "agent"])
def test_only_admins_can_list_the_picture_audit_log(env, role):
    ev = state_change("c0417/cam03", snapshot=b64(jpeg(7)))
    env.post([ev])
    env.client.get(f"/v1/events/{ev['event_id']}/snapshot", headers=env.h("operator"))
    r = env.client.get("/v1/audit/pictures", headers=env.h(role))
    assert r.status_code == 403, r.text
    assert "operator1" not in r.text
    assert env.client.get("/v1/audit/pictures").status_code == 401
    assert env.client.get("/v1/audit/pictures", headers=env.h("admin")).status_code == 200
    # Exported nowhere else: not in the metrics or the events list.
    m = env.client.get("/metrics", headers=env.h("admin")).text
    assert "operator1" not in m and "picture_views" not in m


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database (no schema at all), so a test can migrate it step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    from conftest import PG_URL

    schema = f"lwpic_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_upgrade_times_existing_reference_pictures_from_first_seen(blank_db_url):
    """A reference stored before 0004 has no receipt time; it must still expire (early)."""
    from alembic import command

    store = open_store(blank_db_url, pool_size=1)
    try:
        cfg = alembic_config(store.url)
        with store.write.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
            conn.commit()
            conn.execute(text(
                "INSERT INTO cameras (id, compound, agent, first_seen, last_seen, "
                "reference_image) VALUES ('c1/a', 'c1', 'c1', 100, 200, 'x'), "
                "('c1/b', 'c1', 'c1', 100, 200, NULL)"))
            conn.commit()
            command.upgrade(cfg, "head")
            conn.commit()
            rows = conn.execute(text("SELECT id, reference_at FROM cameras ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [("c1/a", 100.0), ("c1/b", None)]
            # And back: the downgrade drops what 0004 added, and the upgrade works again.
            command.downgrade(cfg, "0003")
            conn.commit()
            command.upgrade(cfg, "head")
            conn.commit()
    finally:
        store.dispose()
