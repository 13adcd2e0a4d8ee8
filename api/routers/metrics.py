"""`/metrics`: Prometheus text exposition of the anchoring queue and of response classes.

Gauges are computed from the database on every scrape, so every API process reports the
same queue (there is one database); counters are per process. Each app gets its own
`CollectorRegistry`, never the global one, so several apps in one process (tests, two
processes' worth of apps) do not collide. Scraping needs no key: only counts are shown.

Gauges (database, at scrape time):
- `notary_anchor_queue_depth`: revisions accepted but not yet anchored (pending, sending);
- `notary_revisions{state}`: revisions by anchor state;
- `notary_anchor_oldest_pending_age_seconds`: age of the oldest unanchored revision (0 if
  none), the anchoring lag an alert should watch;
- `notary_anchor_last_anchored_age_seconds`: time since the last anchor (absent before it);
- `notary_anchor_failed{kind}`: revisions, revocations, replacements the chain refused;
- `notary_anchor_errors`: unanchored revisions carrying an anchor error;
- `notary_anchor_txs{state}`: outbox transactions by state (failed, dropped …);
- `notary_alerts_open{rule}`: alerts nobody acknowledged yet, by rule (the scheduled audit
  and the worker raise them; a rule with none is absent);
- `notary_metrics_database_up`: 1 if the scrape could read the database.

Counters (this process): `notary_http_responses_total{status_class}`, responses by 1xx …
5xx; `notary_publish_commits_total` and `notary_publish_jobs_total`, the publish writer's
transactions and the publishes they answered (their ratio is the mean group-commit batch);
`notary_access_refused_total{action}`, refused requests that named a record id, counted
alike whether a record has it or not (so the count tells no one which ids are real).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notary.audit.alert_store import open_alert_counts
from notary.db.models import AnchorTx, Replacement, Revision, Revocation
from notary.db.types import AnchorState, TxState

log = logging.getLogger(__name__)

router = APIRouter(tags=["metrics"])

UNANCHORED = (AnchorState.PENDING, AnchorState.SENDING)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def _age_s(now: datetime, then: datetime | None) -> float | None:
    """Seconds from `then` (naive means UTC) to `now`, never negative; None if no `then`."""
    if then is None:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


READ_EVERY_S = 5.0
"""The outbox gauges are read from the database at most this often: `/metrics` needs no key,
and counting revisions by state scans an index that grows with every publish."""


class AnchorCollector(Collector):
    """Gauges of the anchoring outbox, read from the app's database at scrape time (at most
    every `READ_EVERY_S`; scrapes in between get the last reading)."""

    def __init__(self, app: FastAPI, *, read_every_s: float | None = None) -> None:
        self.app = app
        self._read_every_s = read_every_s
        self._last: tuple[float, list[Metric]] | None = None
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        """No fixed description: the gauges are only known once the database is read."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One set of gauges per scrape; `notary_metrics_database_up` 0 if the read failed."""
        up = GaugeMetricFamily(
            "notary_metrics_database_up", "1 if this scrape could read the database"
        )
        try:
            families = self._cached()
        except Exception:  # a scrape must answer even when the database does not
            log.warning("metrics: database read failed", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _cached(self) -> list[Metric]:
        every = self._read_every_s
        if every is None:  # tests read every scrape: `app.state.metrics_read_every_s = 0`
            every = getattr(self.app.state, "metrics_read_every_s", READ_EVERY_S)
        with self._lock:  # concurrent scrapes share one read
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= every:
                self._last = (now, self._from_database())
            return self._last[1]

    def _from_database(self) -> list[Metric]:
        now = datetime.now(UTC)
        with self.app.state.db.session() as s:
            by_state = dict(
                s.execute(
                    select(Revision.anchor_state, func.count()).group_by(Revision.anchor_state)
                ).all()
            )
            oldest = s.scalar(
                select(func.min(Revision.accepted_at)).where(Revision.anchor_state.in_(UNANCHORED))
            )
            last = s.scalar(select(func.max(Revision.anchored_at)))
            errors = s.scalar(
                select(func.count())
                .select_from(Revision)
                .where(Revision.anchor_error.is_not(None))
                .where(Revision.anchor_state != AnchorState.ANCHORED)
            )
            failed = {
                name: s.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.anchor_state == AnchorState.FAILED)
                )
                or 0
                for name, model in (
                    ("revision", Revision),
                    ("revocation", Revocation),
                    ("replacement", Replacement),
                )
            }
            txs = dict(
                s.execute(select(AnchorTx.state, func.count()).group_by(AnchorTx.state)).all()
            )
            open_alerts = open_alert_counts(s)
            s.rollback()

        depth = GaugeMetricFamily(
            "notary_anchor_queue_depth", "Revisions accepted but not yet anchored"
        )
        depth.add_metric([], sum(by_state.get(st, 0) for st in UNANCHORED))
        states = GaugeMetricFamily(
            "notary_revisions", "Revisions by anchor state", labels=["state"]
        )
        for st in AnchorState:
            states.add_metric([st.value], by_state.get(st, 0))
        oldest_age = GaugeMetricFamily(
            "notary_anchor_oldest_pending_age_seconds",
            "Age of the oldest revision not yet anchored (0 when the queue is empty)",
        )
        oldest_age.add_metric([], _age_s(now, oldest) or 0.0)
        out: list[Metric] = [depth, states, oldest_age]
        last_age = _age_s(now, last)
        if last_age is not None:
            g = GaugeMetricFamily(
                "notary_anchor_last_anchored_age_seconds", "Seconds since the last revision anchor"
            )
            g.add_metric([], last_age)
            out.append(g)
        failed_g = GaugeMetricFamily(
            "notary_anchor_failed", "Anchors the chain refused, by kind", labels=["kind"]
        )
        for name, n in failed.items():
            failed_g.add_metric([name], n)
        errors_g = GaugeMetricFamily(
            "notary_anchor_errors", "Unanchored revisions carrying an anchor error"
        )
        errors_g.add_metric([], errors or 0)
        txs_g = GaugeMetricFamily(
            "notary_anchor_txs", "Outbox transactions by state", labels=["state"]
        )
        for st in TxState:
            txs_g.add_metric([st.value], txs.get(st, 0))
        alerts_g = GaugeMetricFamily(
            "notary_alerts_open", "Alerts nobody acknowledged yet, by rule", labels=["rule"]
        )
        for rule, n in sorted(open_alerts.items()):
            alerts_g.add_metric([rule], n)
        return [*out, failed_g, errors_g, txs_g, alerts_g]


class PublishWriterCollector(Collector):
    """The publish writer's counters (`api.services.publish_writer`), read at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """Commits and the publishes they answered."""
        writer = self.app.state.publish_writer
        commits = CounterMetricFamily(
            "notary_publish_commits", "Transactions committed by the publish writer"
        )
        commits.add_metric([], writer.commits)
        jobs = CounterMetricFamily(
            "notary_publish_jobs", "Publishes answered from the publish writer's commits"
        )
        jobs.add_metric([], writer.published)
        yield commits
        yield jobs


class RefusedAccessCollector(Collector):
    """Refused requests naming a record id, by action (`api.routers._access.REFUSED`)."""

    def collect(self) -> Iterator[Metric]:
        """One counter sample per action seen so far."""
        from api.routers._access import REFUSED

        family = CounterMetricFamily(
            "notary_access_refused",
            "Refused requests naming a record id, whether a record has it or not",
            labels=["action"],
        )
        for action, count in sorted(REFUSED.snapshot().items()):
            family.add_metric([action], count)
        yield family


class ResponseCounter:
    """ASGI middleware: count every HTTP response by status class.

    A request that ends in an unhandled exception before any response started is counted
    as 5xx (the outermost error handler turns it into a 500 outside this middleware).
    """

    def __init__(self, app: ASGIApp, counter: Counter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def counting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                status = int(message["status"])
                self.counter.labels(status_class=f"{min(max(status // 100, 1), 5)}xx").inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except BaseException:
            if not started:
                self.counter.labels(status_class="5xx").inc()
            raise


def install(app: FastAPI) -> None:
    """Give `app` its own registry, the response counter (outermost app middleware so far)
    and the `/metrics` route. Call it after the other middleware is added."""
    registry = CollectorRegistry(auto_describe=True)
    responses = Counter(
        "notary_http_responses",
        "HTTP responses by status class",
        labelnames=["status_class"],
        registry=registry,
    )
    for cls in STATUS_CLASSES:
        responses.labels(status_class=cls)  # every class present from the start, at 0
    registry.register(AnchorCollector(app))
    registry.register(PublishWriterCollector(app))
    registry.register(RefusedAccessCollector())
    app.state.metrics_registry = registry
    app.add_middleware(ResponseCounter, counter=responses)
    app.include_router(router)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus text exposition of this app's registry."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
