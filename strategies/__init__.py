"""Built-in strategy plugins.

Each module owns its bidder payload model and its ``build``; they are
registered as entry points in ``pyproject.toml`` (group ``bidgw.strategies``).

* :mod:`strategies.single_factor_hedged` — ``hedge_data`` (docs/math.md §2)
* :mod:`strategies.beta_neutral` — ``beta_data`` (docs/math.md §3)
"""

from strategies.beta_neutral import BetaData, BetaNeutral, BetaPosition
from strategies.single_factor_hedged import HedgeData, HedgePosition, SingleFactorHedged

__all__ = [
    "BetaData",
    "BetaNeutral",
    "BetaPosition",
    "HedgeData",
    "HedgePosition",
    "SingleFactorHedged",
]
