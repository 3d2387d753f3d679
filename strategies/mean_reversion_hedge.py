"""``mean_reversion_hedge``: hedge a net book with whole lots of mean-reverting
sub-portfolios (docs/math.md §5, seed ``000_b4f9222c2966c9c6.txt``).

Payload (fits the generic FIX fields: one order per instrument, scalar
parameters only)::

    strategy: mean_reversion_hedge
    bidder_data:
      price_history: fx_prices.csv     # a file under the plugin's data_dir, never inline
      vectors: johansen                # johansen | pca | given (beta_1.. on each position)
      vector_count: 2                  # for pca
      horizon: 1                       # covariance of price changes over this many steps
      method: exact                    # exact | babai | greedy
      positions:                       # one per instrument: the current net position
        - {symbol: EUR, side: Buy,  qty: 730000, price: "1.1040", lot_size: 100000}
        - {symbol: CHF, side: Sell, qty: 690000, price: "1.0560", lot_size: 100000}
        ...

Each position's ``side``/``qty`` is the *current net position* (Buy = long),
``price`` the limit for hedge trades in that instrument and ``lot_size`` its lot
(default 100,000 for this strategy: FX). With ``vectors: given``, each position
carries ``beta_1``, ``beta_2``... (its weight in each vector).

The strategy minimises the residual variance ``qᵀΣq`` (not the seed's
determinant, which is zero whenever one residual is; see
:mod:`strategies.lattice`), rounds each instrument's trade to whole lots, and
returns a bundle of those trades whose constraints keep every fill
proportional to the full trade — ``q_i · |t_1| = q_1 · |t_i|`` — so any partial
fill moves the book along the mean-reverting directions, i.e. is still a hedge.
:meth:`MeanReversionHedge.describe_fill` reports the share of the hedge trade a
fill carries and whether every leg was filled in that same proportion.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import ClassVar, Literal, Self

import numpy as np
from pydantic import Field, model_validator

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.errors import FieldIssue, PayloadError
from gateway.core.fields import (
    ExactDecimal,
    FrozenModel,
    PositiveDecimal,
    PositiveInt,
    SideField,
    Symbol,
)
from gateway.core.plugins import BuildContext, ConfigPath, FillCheck, StrategyConfig
from strategies._common import duplicate_issues
from strategies.history import (
    HistoryError,
    check_prices,
    estimation_error,
    horizon_problem,
    read_history,
)
from strategies.lattice import Method, solve_hedge
from strategies.meanrev import covariance, johansen_vectors, pca_vectors

__all__ = ["HedgeBook", "MeanReversionConfig", "MeanReversionHedge"]

_MAX_VECTORS = 8


class BookPosition(FrozenModel):
    """One instrument: the net position (side, qty), the hedge limit price and lot."""

    symbol: Symbol
    side: SideField
    qty: int = Field(strict=True, ge=0, lt=10**12)
    price: PositiveDecimal
    lot_size: PositiveInt | None = None
    beta_1: ExactDecimal | None = None
    beta_2: ExactDecimal | None = None
    beta_3: ExactDecimal | None = None
    beta_4: ExactDecimal | None = None
    beta_5: ExactDecimal | None = None
    beta_6: ExactDecimal | None = None
    beta_7: ExactDecimal | None = None
    beta_8: ExactDecimal | None = None

    def betas(self) -> list[Decimal | None]:
        return [getattr(self, f"beta_{k}") for k in range(1, _MAX_VECTORS + 1)]


class HedgeBook(FrozenModel):
    """The mean_reversion_hedge bidder payload."""

    positions: list[BookPosition] = Field(min_length=2)
    price_history: str
    vectors: Literal["johansen", "pca", "given"] = "johansen"
    vector_count: PositiveInt | None = None
    horizon: PositiveInt = 1
    method: Literal["exact", "babai", "greedy"] = "exact"

    @model_validator(mode="after")
    def _check(self) -> Self:
        duplicates = duplicate_issues(self.positions)
        symbols = [p.symbol for p in self.positions]
        if duplicates or len(set(symbols)) != len(symbols):
            raise ValueError("each instrument must appear once")
        if self.vectors == "pca" and self.vector_count is None:
            raise ValueError("vectors: pca needs vector_count")
        if self.vectors == "given":
            self._check_betas()
        return self

    def _check_betas(self) -> None:
        """``vectors: given``: every position has beta_1..beta_K, the same K."""
        keys = [
            tuple(k for k, b in enumerate(p.betas(), 1) if b is not None) for p in self.positions
        ]
        count = len(keys[0])
        if count == 0 or any(k != tuple(range(1, count + 1)) for k in keys):
            listed = "; ".join(
                f"positions[{i}] ({p.symbol}) has "
                + (", ".join(f"beta_{k}" for k in have) if have else "none")
                for i, (p, have) in enumerate(zip(self.positions, keys, strict=True))
                if have != tuple(range(1, count + 1)) or count == 0
            )
            raise ValueError(
                "vectors: given needs beta_1..beta_K, the same K, on every position "
                f"(its weight in each vector; 0 where it has none): {listed}"
            )

    def given_vectors(self) -> list[list[Decimal]]:
        """``vectors: given``: (position, vector) the betas."""
        count = sum(b is not None for b in self.positions[0].betas())
        return [[b for b in p.betas()[:count] if b is not None] for p in self.positions]


class MeanReversionConfig(StrategyConfig):
    """Config: where price histories are read from, and the default lot.

    Attributes:
        data_dir: folder that ``price_history`` names a file in, relative to the
            strategies file that sets it (default: the working directory).
            References may not leave it.
        default_lot_size: lot for instruments that name none (default 100,000: FX).
    """

    data_dir: ConfigPath = Path()
    default_lot_size: PositiveInt = 100_000


class MeanReversionHedge:
    """Strategy plugin for mean_reversion_hedge bidders."""

    name: ClassVar[str] = "mean_reversion_hedge"
    payload_model: ClassVar[type[HedgeBook]] = HedgeBook
    config_model: ClassVar[type[StrategyConfig]] = MeanReversionConfig

    def build(
        self, payload: HedgeBook, config: MeanReversionConfig, context: BuildContext
    ) -> OrderBundle:
        symbols = [p.symbol for p in payload.positions]
        history = self._history(payload, config, symbols)
        vectors = self._vectors(payload, history)
        lots = np.array(
            [
                float(p.lot_size or context.lot_size or config.default_lot_size)
                for p in payload.positions
            ]
        )
        book = np.array([p.side.sign * p.qty for p in payload.positions], dtype=np.float64)
        cov = covariance(history, payload.horizon)
        method: Method = payload.method
        try:
            solution = solve_hedge(book, lots[:, None] * vectors, cov, method)
        except ValueError as exc:  # dependent vectors
            raise PayloadError(
                "no hedge can be built from these vectors",
                strategy=self.name,
                issues=[
                    FieldIssue(
                        "bidder_data.positions"
                        if payload.vectors == "given"
                        else "bidder_data.vectors",
                        f"{exc} (the vectors: {payload.vectors})",
                    )
                ],
            ) from None
        trade = -(lots[:, None] * vectors) @ solution.omega
        trade_lots = np.rint(trade / lots).astype(np.int64)  # whole lots per instrument
        residual = book + lots * trade_lots
        risk_sent = float(residual @ cov @ residual)  # what a full fill of the bundle leaves
        legs: list[Leg] = []
        amounts: list[int] = []
        for index, (position, lot, n) in enumerate(
            zip(payload.positions, lots, trade_lots, strict=True)
        ):
            if n == 0:
                continue
            legs.append(
                Leg(
                    symbol=position.symbol,
                    side=Side.BUY if n > 0 else Side.SELL,
                    limit_price=position.price,
                    max_qty=int(abs(n) * lot),
                    lot_size=int(lot),
                    position=index,
                )
            )
            amounts.append(int(abs(n) * lot))
        if not legs or risk_sent >= solution.risk_before:
            reason = (
                "the best integer hedge is no trade"
                if not legs
                else f"the best integer hedge, rounded to each instrument's lot, leaves a "
                f"risk of {risk_sent:.6g}, not below the book's {solution.risk_before:.6g}"
            )
            raise PayloadError(
                "no hedge trade reduces the book's risk",
                strategy=self.name,
                issues=[FieldIssue("bidder_data.positions", reason)],
            )
        first = amounts[0]
        constraints = tuple(
            Constraint(
                name=f"proportional_{legs[i].symbol}",
                coefficients=tuple(
                    Decimal(first) if j == i else Decimal(-amounts[i]) if j == 0 else Decimal(0)
                    for j in range(len(legs))
                ),
                sense=Sense.EQ,
                description=f"fill {legs[i].symbol} in proportion {amounts[i]}:{first} "
                f"to {legs[0].symbol}",
            )
            for i in range(1, len(legs))
        )
        metadata = {
            **context.metadata,
            "risk_before": f"{solution.risk_before:.6g}",
            "risk_after": f"{risk_sent:.6g}",
            "risk_unrounded": f"{solution.risk_after:.6g}",
            "lots_per_vector": ",".join(str(int(w)) for w in solution.omega),
        }
        return OrderBundle(
            bundle_id=context.bundle_id,
            legs=tuple(legs),
            constraints=constraints,
            metadata=metadata,
        )

    def describe_fill(
        self, payload: HedgeBook, bundle: OrderBundle, fills: Sequence[int]
    ) -> FillCheck:
        """The share of the full hedge trade filled, and whether it is the same on every leg.

        The full trade of each leg is its ``max_qty``; ``within`` is the bundle's
        proportionality rows, ``q_i · t_1 == q_1 · t_i``, in exact arithmetic.
        """
        if len(fills) != len(bundle.legs):
            raise ValueError(f"{len(fills)} fill quantities for {len(bundle.legs)} legs")
        trades = [leg.max_qty for leg in bundle.legs]
        within = all(q * trades[0] == fills[0] * t for q, t in zip(fills, trades, strict=True))
        risk = ""
        if "risk_before" in bundle.metadata and "risk_after" in bundle.metadata:
            risk = (
                f" (risk {bundle.metadata['risk_before']} -> {bundle.metadata['risk_after']} "
                "at full fill)"
            )
        return FillCheck(
            measure="hedge trade filled",
            achieved=Fraction(sum(fills), sum(trades)),
            bound=f"every leg in that proportion{risk}",
            within=within,
        )

    @staticmethod
    def _history(payload: HedgeBook, config: MeanReversionConfig, symbols: list[str]) -> np.ndarray:
        """The payload's instruments' prices, checked for what the estimators need."""
        base = config.data_dir.resolve()
        path = (base / payload.price_history).resolve()
        issue = FieldIssue("bidder_data.price_history", "")
        if not path.is_relative_to(base):
            issue.reason = "must name a file inside the plugin's data_dir"
            raise PayloadError("invalid mean_reversion_hedge payload", issues=[issue])
        try:
            header, data = read_history(path, name=payload.price_history)
            missing = [s for s in symbols if s not in header]
            if missing:
                raise HistoryError(f"{payload.price_history}: no prices for {', '.join(missing)}")
            prices = data[:, [header.index(s) for s in symbols]]
            check_prices(payload.price_history, symbols, prices)
        except OSError as exc:
            issue.reason = (
                f"cannot read {payload.price_history!r} in the plugin's data_dir {base}: "
                f"{exc.strerror or exc}"
            )
            raise PayloadError("invalid mean_reversion_hedge payload", issues=[issue]) from None
        except HistoryError as exc:
            issue.reason = str(exc)
            raise PayloadError("invalid mean_reversion_hedge payload", issues=[issue]) from None
        short = horizon_problem(payload.price_history, len(prices), payload.horizon)
        if short:
            raise PayloadError(
                "invalid mean_reversion_hedge payload",
                issues=[FieldIssue("bidder_data.horizon", short)],
            )
        return prices

    @staticmethod
    def _vectors(payload: HedgeBook, history: np.ndarray) -> np.ndarray:
        if payload.vectors == "given":
            return np.array(payload.given_vectors(), dtype=np.float64)
        try:
            if payload.vectors == "pca":
                return pca_vectors(history, payload.vector_count or 1)
            vectors = johansen_vectors(history)
        except np.linalg.LinAlgError as exc:  # before ValueError: it is one
            issue = FieldIssue(
                "bidder_data.price_history",
                str(estimation_error(payload.price_history, history, exc)),
            )
            raise PayloadError("invalid mean_reversion_hedge payload", issues=[issue]) from None
        except ValueError as exc:  # a count, or a number of instruments, it does not take
            at = "vector_count" if payload.vectors == "pca" else "vectors"
            issue = FieldIssue(f"bidder_data.{at}", str(exc))
            raise PayloadError("invalid mean_reversion_hedge payload", issues=[issue]) from None
        if vectors.shape[1] == 0:
            raise PayloadError(
                "the price history shows no cointegration (Johansen rank 0)",
                issues=[FieldIssue("bidder_data.vectors", "rank 0")],
            )
        return vectors
