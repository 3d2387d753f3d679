"""The gateway's Prometheus metrics: counters and histograms the state owner updates.

Each :class:`GatewayMetrics` has its own ``CollectorRegistry`` (several gateways
may run in one process, as the tests do). Updates are a labelled counter
increment or a histogram observation: about a microsecond each, no I/O. Values
that are read rather than counted (sessions logged on, sequence numbers, open
bundles, queue depth, journal size, front-door events) are collected at scrape
time by the ops server (:mod:`gateway.ops.server`), never pushed.

:class:`VenueMetrics` are the simulated venue's own (``bidgw venue``), updated on
its state thread and served by :mod:`gateway.ops.venue`.

Names follow Prometheus' conventions: counters end in ``_total`` (added by the
client library), durations are in seconds with buckets from 10 µs up.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["LATENCY_BUCKETS", "GatewayMetrics", "VenueMetrics"]

#: Seconds: microsecond steps for the fast path, up to the pre-solve's time limits.
LATENCY_BUCKETS = (
    10e-6,
    25e-6,
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
    2.5,
    5.0,
    10.0,
)


class GatewayMetrics:
    """The counted metrics of one gateway (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.bundles_received = Counter(
            "bidgw_bundles_received",
            "NewOrderLists received from desks (replays after a restart not counted)",
            ["client"],
            registry=registry,
        )
        self.bundles_accepted = Counter(
            "bidgw_bundles_accepted",
            "Bundles accepted and forwarded to the counterparty",
            ["client", "strategy"],
            registry=registry,
        )
        self.bundles_denied = Counter(
            "bidgw_bundles_denied",
            "Lists denied, by ListRejectReason (1386) and kind (invalid, duplicate, halted, "
            "limit, pretrade, infeasible, presolve_timeout, venue_down, counterparty, "
            "internal); stage 'gateway' is the gateway's decision, 'counterparty' its reject "
            "of a bundle the gateway had accepted",
            ["client", "reason_code", "stage", "kind"],
            registry=registry,
        )
        self.cancels = Counter(
            "bidgw_cancels_received",
            "ListCancelRequests received from desks",
            ["client"],
            registry=registry,
        )
        self.fills = Counter(
            "bidgw_fills",
            "Fills (ExecutionReports with ExecType F) relayed to desks",
            ["client"],
            registry=registry,
        )
        self.filled_quantity = Counter(
            "bidgw_filled_quantity",
            "Quantity filled, the sum of LastQty (32) over relayed fills",
            ["client"],
            registry=registry,
        )
        self.reconcile = Counter(
            "bidgw_reconcile_bundles",
            "Open bundles the gateway asked the counterparty about at its logons "
            "(ListStatusRequest; outcome 'asked'), and the answers by outcome: 'held' (a "
            "ListStatus), 'closed' (unknown ID: it holds no such list, so the gateway "
            "closed the bundle), 'refused' (another reject: the bundle stays open)",
            ["outcome"],
            registry=registry,
        )
        self.decision_seconds = Histogram(
            "bidgw_decision_seconds",
            "From a list's arrival on the engine thread to its verdict on the state owner "
            "(pre-solved lists)",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.presolve_seconds = Histogram(
            "bidgw_presolve_seconds",
            "Pre-solver time per list (model build and solve)",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.admin_actions = Counter(
            "bidgw_ops_admin_actions",
            "Admin actions asked of the operator surface, by outcome",
            ["action", "outcome"],
            registry=registry,
        )


class VenueMetrics:
    """The counted metrics of one simulated venue (``bidgw venue``), updated on its
    state thread; what it holds (bundles resting, the session) is read at scrape
    time by :mod:`gateway.ops.venue`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.auctions = Counter(
            "bidgw_venue_auctions",
            "Auctions run, by clearing status (optimal, feasible, no_trade, no_solution, "
            "unverified: the whole solution failed exact verification, failed: it raised)",
            ["status"],
            registry=registry,
        )
        self.auction_seconds = Histogram(
            "bidgw_venue_auction_seconds",
            "Solver time per auction",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.bundles_received = Counter(
            "bidgw_venue_bundles_received",
            "NewOrderLists received from the gateway (repeats of a known ListID included)",
            registry=registry,
        )
        self.bundles_rejected = Counter(
            "bidgw_venue_bundles_rejected",
            "NewOrderLists refused on arrival (screening, duplicate ids)",
            registry=registry,
        )
        self.fills = Counter(
            "bidgw_venue_fills",
            "Fills sent: ExecutionReports with ExecType F, one per leg that traded",
            ["symbol"],
            registry=registry,
        )
        self.filled_quantity = Counter(
            "bidgw_venue_filled_quantity",
            "Quantity filled, the sum of LastQty (32) over the fills sent",
            ["symbol"],
            registry=registry,
        )
        self.bundles_filled = Counter(
            "bidgw_venue_bundles_filled",
            "Bundle fills: a bundle that traded in an auction counts once per auction",
            registry=registry,
        )
        self.exclusions = Counter(
            "bidgw_venue_exclusions",
            "Verification failures: a bundle left out of an auction because the solver's "
            "fill for it failed exact verification",
            registry=registry,
        )
        self.auction_rejections = Counter(
            "bidgw_venue_auction_rejections",
            "Bundles an auction could not model, cancelled by the venue",
            registry=registry,
        )
