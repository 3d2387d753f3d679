"""The operator surface: ``/metrics``, ``/healthz``, ``/readyz``, a live page and admin
actions, served from inside the gateway on a thread of its own.

:mod:`gateway.ops.metrics` (the counters the state owner updates) depends on
nothing of ours, so the router imports it; :mod:`gateway.ops.server` (the web
app) reads the gateway only through snapshots its state owner makes
(:mod:`gateway.ops.snapshot`), thread-safe events and QuickFIX's own
session accessors.
"""

from __future__ import annotations

from gateway.ops.metrics import LATENCY_BUCKETS, GatewayMetrics
from gateway.ops.snapshot import BundleView, DecisionLog, DecisionView, LegView, StateView

__all__ = [
    "LATENCY_BUCKETS",
    "BundleView",
    "DecisionLog",
    "DecisionView",
    "GatewayMetrics",
    "LegView",
    "StateView",
]
