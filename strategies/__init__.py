"""Built-in strategy plugins, and the template engine.

Each module owns its bidder payload model and its ``build``; they are
registered as entry points in ``pyproject.toml`` (group ``bidgw.strategies``).

* :mod:`strategies.single_factor_hedged` — ``hedge_data`` (docs/math.md §2)
* :mod:`strategies.beta_neutral` — ``beta_data`` (docs/math.md §3)
* :mod:`strategies.pairs` — a quantity ratio band over two legs or groups
  (docs/templates.md §1)
* :mod:`strategies.dollar_neutral` — money bought vs sold within a percentage
  (docs/templates.md §2)

:mod:`strategies.templates` compiles strategies declared in YAML (entry point
``linear`` in ``bidgw.templates``; docs/templates.md §3), with the expression
language of :mod:`strategies.expr`.
"""

from strategies.beta_neutral import BetaData, BetaNeutral, BetaPosition
from strategies.dollar_neutral import DollarNeutral, DollarNeutralData, DollarPosition
from strategies.pairs import PairPosition, Pairs, PairsData
from strategies.single_factor_hedged import HedgeData, HedgePosition, SingleFactorHedged
from strategies.templates import LinearTemplates, TemplateError

__all__ = [
    "BetaData",
    "BetaNeutral",
    "BetaPosition",
    "DollarNeutral",
    "DollarNeutralData",
    "DollarPosition",
    "HedgeData",
    "HedgePosition",
    "LinearTemplates",
    "PairPosition",
    "Pairs",
    "PairsData",
    "SingleFactorHedged",
    "TemplateError",
]
