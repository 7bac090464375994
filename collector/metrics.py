"""Prometheus metrics for the collector.

Counters and the latency histogram are per process (sum them over replicas in PromQL). Ticket
and agent gauges are read from the shared database at scrape time, so every replica reports the
same fleet-wide value: use max() rather than sum() over replicas for those.
Labels are bounded sets (fault names, outcomes), never cameras or tokens. Agent ids label two
series only, both bounded by the agent tokens an admin issued (636 edge boxes): the
out-of-scope counter ("which agent" is the point) and the clock-offset gauge (an agent id is
not a secret).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from collector.schema import agents, ticket_faults, tickets
from collector.store import Store
from contract import FAULTS

# `_created` series double the exposition for no use on a dashboard.
disable_created_metrics()


class _DbGauges(Collector):
    def __init__(self, store: Store, silent_after: float) -> None:
        self.store = store
        self.silent_after = silent_after

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        open_by_fault = dict.fromkeys(FAULTS, 0)
        with self.store.reading() as conn:
            for fault, n in conn.execute(
                select(ticket_faults.c.fault, func.count(func.distinct(tickets.c.id)))
                .join(tickets, tickets.c.id == ticket_faults.c.ticket_id)
                .where(tickets.c.status != "closed")
                .group_by(ticket_faults.c.fault)
            ).all():
                if fault in open_by_fault:
                    open_by_fault[fault] = int(n)
            seen = conn.execute(select(func.count()).select_from(agents).where(
                agents.c.last_contact >= now - self.silent_after)).scalar_one()
            total = conn.execute(select(func.count()).select_from(agents)).scalar_one()
            offsets = conn.execute(select(agents.c.id, agents.c.clock_offset).where(
                agents.c.clock_offset.is_not(None)).order_by(agents.c.id)).all()
        g = GaugeMetricFamily(
            "lenswatch_collector_open_tickets",
            "Tickets not yet closed that include this fault (fleet-wide, from the database).",
            labels=["fault"],
        )
        for fault, n in open_by_fault.items():
            g.add_metric([fault], n)
        yield g
        a = GaugeMetricFamily(
            "lenswatch_collector_agents",
            "Known agents by whether they were heard from within the silence window.",
            labels=["state"],
        )
        a.add_metric(["seen"], int(seen))
        a.add_metric(["silent"], int(total) - int(seen))
        yield a
        o = GaugeMetricFamily(
            "lenswatch_collector_agent_clock_offset_seconds",
            "Receipt time minus the agent's send-time header on its last POST: how far its "
            "clock is behind the collector's (negative: ahead). Alert on abs() > 300.",
            labels=["agent"],
        )
        for agent_id, off in offsets:
            o.add_metric([agent_id], float(off))
        yield o


class Metrics:
    """One registry per app instance, so tests can build several apps in one process."""

    def __init__(self, store: Store, silent_after: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "lenswatch_collector_events",
            "Events received from agents, by kind, fault and outcome.",
            ["kind", "fault", "outcome"],
            registry=self.registry,
        )
        self.batches = Counter(
            "lenswatch_collector_batches",
            "Batches received, by HTTP outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lenswatch_collector_ingest_latency_seconds",
            "Time from receiving a batch to answering it (validation plus commit).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.out_of_scope = Counter(
            "lenswatch_collector_out_of_scope_events",
            "Events rejected because they name a camera of a compound the sending agent's "
            "token is not bound to, by agent (a misconfigured or compromised edge box).",
            ["agent"],
            registry=self.registry,
        )
        self.registry.register(_DbGauges(store, silent_after))
        # `labels()` validates and locks on every call; the children it returns are reused.
        self._event_children: dict[tuple[str, str | None, str], Any] = {}

    def count_event(self, kind: str, fault: str | None, outcome: str, n: int = 1) -> None:
        child = self._event_children.get((kind, fault, outcome))
        if child is None:
            label = fault if fault in FAULTS else ("none" if fault is None else "invalid")
            child = self.events.labels(kind, label, outcome)
            if len(self._event_children) < 1000:  # bounded: `fault` may be any string
                self._event_children[(kind, fault, outcome)] = child
        child.inc(n)
