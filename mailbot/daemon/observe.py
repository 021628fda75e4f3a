"""The daemon's HTTP face for monitoring, on loopback by default: `/healthz` and Prometheus `/metrics`.

Everything is computed from the database when scraped (a collector, not counters kept in memory), so the
figures agree with `mailbot status`, survive a restart, and two daemons — active and standby — report the same
mail. What only the running process knows (whether it holds the leader lock) is a gauge it sets.

`/healthz` answers 200 with the status state (`ok` or `warning`) and 503 on `alarm`, with the JSON of
`mailbot status --json` — what a load balancer or a plain HTTP check needs. Served by the standard library's
WSGI server in a daemon thread; the official client library writes the Prometheus text format.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sqlalchemy import func, select

from mailbot.app import App
from mailbot.daemon import health
from mailbot.daemon.status import gather_status
from mailbot.db.models import InboundMessage, OutboxMail, Quarantine, Request
from mailbot.db.state import DbStateStore
from mailbot.domain.due import month_key

log = logging.getLogger(__name__)

# Seconds from an urgent mail's arrival to its forward reaching the mail server (the promise is "within a minute").
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
Start = Callable[[str, list[tuple[str, str]]], Any]


class Collector:
    """Prometheus collector reading the database at each scrape."""

    def __init__(self, app: App, leader: Callable[[], bool]) -> None:
        self.app, self.leader = app, leader

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        with self.app.sessions() as s:
            inbound = dict(s.execute(select(InboundMessage.status, func.count()).group_by(InboundMessage.status)).all())
            outbox = dict(s.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())
            quarantined = s.scalar(select(func.count()).select_from(Quarantine)
                                   .where(Quarantine.released_at.is_(None))) or 0
            unreadable = s.scalar(select(func.count()).select_from(Quarantine)
                                  .where(Quarantine.reason.like("无法读取%"))) or 0
            latencies = [(sent - received).total_seconds() for sent, received in s.execute(
                select(OutboxMail.sent_at, InboundMessage.received_at)
                .join(Request, Request.id == OutboxMail.request_id)
                .join(InboundMessage, InboundMessage.id == Request.inbound_id)
                .where(OutboxMail.kind == "urgent_forward", OutboxMail.sent_at.is_not(None))) if sent is not None]
        messages = CounterMetricFamily("mailbot_inbound_messages", "Inbound messages by outcome", labels=["status"])
        for status, n in sorted(inbound.items()):
            messages.add_metric([status], n)
        yield messages
        mails = GaugeMetricFamily("mailbot_outbox_mails", "Outbox mails by status (pending is the backlog, dead "
                                  "the dead letters)", labels=["status"])
        for status in ("pending", "sent", "dead"):
            mails.add_metric([status], outbox.get(status, 0))
        yield mails
        yield GaugeMetricFamily("mailbot_quarantine_open", "Quarantined messages nobody released yet",
                                value=quarantined)
        yield CounterMetricFamily("mailbot_unreadable_messages", "Messages quarantined because they could not be "
                                  "parsed", value=unreadable)
        h = health.load(DbStateStore(self.app.sessions, self.app.now))
        age = (self.app.now() - h.last_ok).total_seconds() if h.last_ok else float("nan")
        yield GaugeMetricFamily("mailbot_last_poll_age_seconds", "Seconds since the last successful mailbox poll "
                                "(NaN: never)", value=age)
        yield GaugeMetricFamily("mailbot_mailbox_failures", "Failed polls in a row", value=h.failures)
        yield GaugeMetricFamily("mailbot_leader", "1 while this daemon holds the lock and acts",
                                value=int(self.leader()))
        buckets = [(str(b), sum(x <= b for x in latencies)) for b in LATENCY_BUCKETS]
        yield HistogramMetricFamily("mailbot_urgent_forward_seconds", "From an urgent mail's arrival to its forward "
                                    "reaching the mail server", buckets=[*buckets, ("+Inf", len(latencies))],
                                    sum_value=sum(latencies))


def wsgi_app(app: App, leader: Callable[[], bool] = lambda: True) -> Callable[[dict[str, Any], Start],
                                                                           Iterable[bytes]]:
    """/metrics and /healthz as one WSGI application (anything else: 404)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(app, leader))  # type: ignore[arg-type]

    def serve(environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            start("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest(registry)]
        if path == "/healthz":
            status = gather_status(app, month_key(None, app.today()))
            start("503 Service Unavailable" if status.state == "alarm" else "200 OK",
                  [("Content-Type", "application/json; charset=utf-8")])
            return [json.dumps(status.as_json(), ensure_ascii=False).encode()]
        start("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics or /healthz\n"]

    return serve


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes every few seconds: not logged
        pass


def start_http(app: App, leader: Callable[[], bool] = lambda: True) -> WSGIServer | None:
    """Serve /healthz and /metrics in a daemon thread if `health.http_port` is set; the caller shuts it down."""
    cfg = app.settings.health
    if not cfg.http_port:
        return None
    server = make_server(cfg.http_host, cfg.http_port, wsgi_app(app, leader), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="mailbot-http", daemon=True).start()
    log.info("health and metrics on http://%s:%s/healthz and /metrics", cfg.http_host, cfg.http_port)
    return server


