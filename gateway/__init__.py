"""bidgw: a FIX-connected bidder gateway for expressive bids.

Public surface (pinned by tests/unit/gateway/test_exports.py)::

    OrderBundle, Leg, Constraint, Side, Sense      the one data type between layers
    PreSolver, PresolveConfig, Verdict, Outcome    can a non-empty fill exist?
    StrategyRegistry, Strategy, StrategyConfig,
    ConfigPath, BuildContext, BidderPayload, FillCheck,
    FillDescriber, CommandPlugin                   strategy and command plugins
    GatewayError and its subclasses                errors

Layers and threads: docs/architecture.md.
"""

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.errors import (
    BundleError,
    ConfigError,
    FieldIssue,
    GatewayError,
    PayloadError,
    PluginError,
    UnknownStrategyError,
)
from gateway.core.plugins import (
    BidderPayload,
    BuildContext,
    CommandPlugin,
    ConfigPath,
    FillCheck,
    FillDescriber,
    Strategy,
    StrategyConfig,
    StrategyRegistry,
    parse_envelope,
)
from gateway.solver.presolve import Outcome, PresolveConfig, PreSolver, Verdict

__version__ = "0.1.0"

__all__ = [
    "BidderPayload",
    "BuildContext",
    "BundleError",
    "CommandPlugin",
    "ConfigError",
    "ConfigPath",
    "Constraint",
    "FieldIssue",
    "FillCheck",
    "FillDescriber",
    "GatewayError",
    "Leg",
    "OrderBundle",
    "Outcome",
    "PayloadError",
    "PluginError",
    "PreSolver",
    "PresolveConfig",
    "Sense",
    "Side",
    "Strategy",
    "StrategyConfig",
    "StrategyRegistry",
    "UnknownStrategyError",
    "Verdict",
    "__version__",
    "parse_envelope",
]
