"""The counted metrics: Prometheus names, microsecond buckets, one registry each."""

from __future__ import annotations

from prometheus_client import generate_latest

from gateway.ops.metrics import LATENCY_BUCKETS, GatewayMetrics, VenueMetrics


def test_names_follow_prometheus_conventions_and_buckets_start_at_ten_microseconds() -> None:
    metrics = GatewayMetrics()
    metrics.bundles_received.labels("DESK1").inc()
    metrics.bundles_denied.labels("DESK1", "99", "gateway", "infeasible").inc()
    metrics.decision_seconds.observe(42e-6)
    metrics.reconcile.labels("asked").inc(3)
    metrics.reconcile.labels("closed").inc()
    text = generate_latest(metrics.registry).decode()
    assert 'bidgw_bundles_received_total{client="DESK1"} 1.0' in text
    assert 'bidgw_reconcile_bundles_total{outcome="asked"} 3.0' in text
    assert 'bidgw_reconcile_bundles_total{outcome="closed"} 1.0' in text
    denied = 'client="DESK1",kind="infeasible",reason_code="99",stage="gateway"'
    assert f"bidgw_bundles_denied_total{{{denied}}} 1.0" in text
    assert 'bidgw_decision_seconds_bucket{le="1e-05"} 0.0' in text
    assert 'bidgw_decision_seconds_bucket{le="5e-05"} 1.0' in text
    assert LATENCY_BUCKETS[0] == 10e-6
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)


def test_two_gateways_in_one_process_keep_their_own_counts() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.fills.labels("DESK1").inc()
    assert 'bidgw_fills_total{client="DESK1"} 1.0' in generate_latest(first.registry).decode()
    assert "bidgw_fills_total{" not in generate_latest(second.registry).decode()


def test_venue_metrics_names_and_their_own_registry() -> None:
    metrics = VenueMetrics()
    metrics.auctions.labels("optimal").inc()
    metrics.auction_seconds.observe(3e-3)
    metrics.fills.labels("AAAA").inc()
    metrics.filled_quantity.labels("AAAA").inc(2000)
    metrics.exclusions.inc()
    text = generate_latest(metrics.registry).decode()
    assert 'bidgw_venue_auctions_total{status="optimal"} 1.0' in text
    assert 'bidgw_venue_auction_seconds_bucket{le="0.005"} 1.0' in text
    assert 'bidgw_venue_fills_total{symbol="AAAA"} 1.0' in text
    assert 'bidgw_venue_filled_quantity_total{symbol="AAAA"} 2000.0' in text
    assert "bidgw_venue_exclusions_total 1.0" in text
    assert "bidgw_venue_" not in generate_latest(GatewayMetrics().registry).decode()
