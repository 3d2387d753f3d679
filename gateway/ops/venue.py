"""The simulated venue's own ``/metrics`` and ``/healthz`` (``bidgw venue`` with
``ops.enabled: true`` in its config), served on a thread of its own.

* ``GET /metrics`` — the counters of :class:`~gateway.ops.metrics.VenueMetrics`
  (auctions by status, solve time, fills and filled quantity per symbol,
  verification failures) plus gauges read at scrape time: bundles resting,
  finished bundles in memory, remembered ids, gateway sessions logged on, the next
  auction's batch size, messages held back for the auction being cleared, auctions
  failing in a row;
* ``GET /healthz`` — the process answers; ``GET /readyz`` — 200 while auctions run
  (one ended within the last ten intervals) and clear (fewer than ten in a row
  ended without a solution), else 503 naming what fails.

The server never touches the venue's state thread: the gauges are read from
sizes the venue publishes (``Venue.size()``) and thread-safe events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import anyio
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.ops.http import Collected, HttpThread

if TYPE_CHECKING:  # the venue imports this module
    from gateway.venue.app import Venue
    from gateway.venue.config import VenueOpsConfig

__all__ = ["VenueOpsServer"]

log = structlog.get_logger("bidgw.ops")


class VenueOpsServer(Collected):
    """``start()`` binds ``config.host:config.port`` (raising if it cannot) and serves on
    the ``bidgw-venue-ops`` thread; ``stop()`` ends it."""

    def __init__(self, venue: Venue, config: VenueOpsConfig) -> None:
        self.venue = venue
        self.config = config
        self.app = Starlette(
            routes=[
                Route("/metrics", self._metrics),
                Route("/healthz", self._healthz),
                Route("/readyz", self._readyz),
            ]
        )
        super().__init__(
            HttpThread(self.app, config.host, config.port, name="bidgw-venue-ops"),
            venue.metrics.registry,
            _VenueCollector(venue),
        )

    def start(self) -> None:
        super().start()
        log.info("venue.ops_started", url=self.url)

    def stop(self) -> None:
        super().stop()

    async def _metrics(self, request: Request) -> Response:
        body = await anyio.to_thread.run_sync(generate_latest, self.venue.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def _readyz(self, request: Request) -> Response:
        checks = self.venue.readiness()
        ready = all(problem is None for problem in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


class _VenueCollector(Collector):
    """Gauges read when /metrics is scraped, never pushed by the venue's thread."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        venue = self.venue
        size = venue.size()
        yield GaugeMetricFamily(
            "bidgw_venue_bundles_resting", "Bundles resting in the book", value=size.resting
        )
        yield GaugeMetricFamily(
            "bidgw_venue_bundles_finished_in_memory",
            "Finished bundles kept in memory for retain_done_secs",
            value=size.finished,
        )
        yield GaugeMetricFamily(
            "bidgw_venue_seen_ids",
            "ListIDs and ClOrdIDs remembered in memory for duplicate checks",
            value=size.seen_ids,
        )
        yield GaugeMetricFamily(
            "bidgw_venue_session_logged_on",
            "1 when a gateway session is logged on",
            value=1 if venue.logged_on.is_set() else 0,
        )
        yield GaugeMetricFamily(
            "bidgw_venue_auction_batch_bundles",
            "Bundles per batch in the next auction: batch_bundles, halved after an auction"
            " that found no fill in time (gateway/venue/batching.py)",
            value=venue.batch_bundles,
        )
        yield GaugeMetricFamily(
            "bidgw_venue_messages_waiting",
            "Messages (cancels, reloads) held back until the auction being cleared has"
            " sent its reports",
            value=venue.messages_waiting,
        )
        yield GaugeMetricFamily(
            "bidgw_venue_auctions_failing_in_a_row",
            "Auctions in a row that ended without a solution (or raised) while bundles rested",
            value=venue.stats.failing_in_a_row,
        )
