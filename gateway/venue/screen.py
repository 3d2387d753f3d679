"""What the venue refuses when a bundle arrives, before it enters the book.

Every resting bundle takes part in one auction model, so a bundle the model
cannot hold exactly and safely would fail the auction for every other bundle
(issue 10: one limit price of ``9.95000000000000000000000001`` stopped every
auction; :mod:`gateway.venue.auction.admission` explains how). :func:`refusal` answers
with the first reason the venue cannot take a bundle, naming the FIX field, the
order and the limit, e.g. ``Price(44) of order B1-1 (AAAA):
9.95000000000000000000000001 is not a multiple of the tick 0.01``; the venue
sends it as the text of its ListStatus reject, and only that bundle is refused.

What is checked, in this order (the first failure is the answer):

* every Symbol(55) is one of the venue's;
* RoundLot(561) is a multiple of the symbol's lot and at most
  :data:`MAX_LOT_MULTIPLE` times it: each symbol's balance row ``Σ ±lot · q =
  0`` must see an imbalance of one venue lot against its largest coefficient,
  and ``1/10^4`` is far above HiGHS's feasibility tolerance of ``10^-6``;
* Price(44) is positive and a multiple of the symbol's ``tick``. A tick has at
  most six decimal places (:data:`gateway.venue.config.MAX_TICK_PLACES`), so this
  also bounds a price's decimal places, and it keeps the auction's price grid the
  config's (:meth:`~gateway.venue.config.VenueAppConfig.price_scale`) whatever
  the bundles;
* TermCoefficient(20016) and ConstraintRHS(20013) have at most
  :data:`MAX_COEFFICIENT_DIGITS` significant digits: every integer of up to 15
  digits is an exact double, and a row of such numbers is still one the
  solver reads as written (``3.0000000000000003`` has 17; against a coefficient
  of 3 it makes the row ``10000000000000001·a − 10000000000000000·b``, which
  HiGHS refuses);
* PriceTermCoefficient(20026) and PriceConstraintRHS(20023) of each price
  constraint (NoPriceConstraints(20020)) likewise have at most
  :data:`MAX_COEFFICIENT_DIGITS` significant digits;
* what the auction model itself needs (:func:`gateway.venue.auction.model_problem`
  on the config's price grid, with the symbols' reference markets): each order's
  objective coefficient, at most 100,000 lots per order (OrderQty(38)), each
  constraint's row over lot counts (its coefficients and activity), the empty
  fill allowed by every constraint (ConstraintRHS(20013)), MinTotalFill(20017),
  and each price constraint's exact row over the clearing prices: its
  coefficients in coprime integers at most 10^5 in magnitude together
  (PriceTermCoefficient(20026)), and every reference it names at most 10^5 steps
  of the price grid, refined by its right-hand side (PriceConstraintRHS(20023));
* a price constraint holds at some prices within the reference ``[bid, offer]``
  of its symbols (PriceConstraintRHS(20023)): the clearing prices always lie
  there, so one that holds nowhere would keep its bundle from ever filling. It is
  refused rather than left to rest unfilled; each constraint is judged on its own
  (exactly, over all prices in the box), and one that holds only together with
  others that exclude it, or only between two steps of the price grid, rests and
  never fills: the auction holds the rows exactly whatever they are.

Magnitudes of single values are already bounded by the codec
(:func:`gateway.core.exact.parse_decimal`: at most 30 digits, below ``10^15``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Final

from gateway.core.bundle import OrderBundle, PriceConstraint
from gateway.core.exact import fraction_text
from gateway.solver.prices import unattainable
from gateway.venue.auction import SymbolRef, Unmodellable, model_problem
from gateway.venue.config import SymbolConfig

__all__ = ["MAX_COEFFICIENT_DIGITS", "MAX_LOT_MULTIPLE", "refusal"]

#: Most significant digits of a constraint coefficient or right-hand side.
MAX_COEFFICIENT_DIGITS: Final = 15
#: Largest RoundLot, as a multiple of the symbol's lot.
MAX_LOT_MULTIPLE: Final = 10_000


def refusal(
    bundle: OrderBundle,
    cl_ord_ids: Sequence[str],
    symbols: Mapping[str, SymbolConfig],
    price_scale: int,
) -> str | None:
    """The first reason the venue cannot take ``bundle``, or None when it can.

    Args:
        bundle: the decoded NewOrderList.
        cl_ord_ids: its orders' ClOrdIDs, in leg order (named in the reason).
        symbols: the venue's symbols (:attr:`VenueAppConfig.symbols`).
        price_scale: the venue's price grid
            (:meth:`~gateway.venue.config.VenueAppConfig.price_scale`).
    """
    unknown = sorted({leg.symbol for leg in bundle.legs} - set(symbols))
    if unknown:
        return f"unknown symbol(s) {', '.join(unknown)}"
    for leg, cl_ord_id in zip(bundle.legs, cl_ord_ids, strict=True):
        order = f"of order {cl_ord_id} ({leg.symbol})"
        venue = symbols[leg.symbol]
        if leg.lot_size % venue.lot_size:
            return (
                f"RoundLot(561) {order}: {leg.lot_size} is not a multiple of "
                f"the venue's lot {venue.lot_size}"
            )
        if leg.lot_size > MAX_LOT_MULTIPLE * venue.lot_size:
            return (
                f"RoundLot(561) {order}: {leg.lot_size} is more than {MAX_LOT_MULTIPLE} "
                f"times the venue's lot {venue.lot_size}"
            )
        if leg.limit_price <= 0:
            return f"Price(44) {order}: {leg.limit_price:f} must be positive"
        if (Fraction(leg.limit_price) / Fraction(venue.tick)).denominator != 1:
            return (
                f"Price(44) {order}: {leg.limit_price:f} is not a multiple of the tick {venue.tick}"
            )
    for constraint in bundle.constraints:
        where = f"of constraint {constraint.name}"
        for coefficient, leg, cl_ord_id in zip(
            constraint.coefficients, bundle.legs, cl_ord_ids, strict=True
        ):
            if _digits(coefficient) > MAX_COEFFICIENT_DIGITS:
                return (
                    f"TermCoefficient(20016) {where}, order {cl_ord_id} ({leg.symbol}): "
                    f"{coefficient:f} has {_digits(coefficient)} significant digits; "
                    f"at most {MAX_COEFFICIENT_DIGITS}"
                )
        if _digits(constraint.rhs) > MAX_COEFFICIENT_DIGITS:
            return (
                f"ConstraintRHS(20013) {where}: {constraint.rhs:f} has "
                f"{_digits(constraint.rhs)} significant digits; at most {MAX_COEFFICIENT_DIGITS}"
            )
    return _price_refusal(bundle, cl_ord_ids, symbols, price_scale)


def _price_refusal(
    bundle: OrderBundle,
    cl_ord_ids: Sequence[str],
    symbols: Mapping[str, SymbolConfig],
    price_scale: int,
) -> str | None:
    """:func:`refusal`'s last checks: the price constraints' digits, the auction
    model's needs, and the price constraints' reach within the reference markets."""
    for price in bundle.price_constraints:
        too_long = _price_digits(price)
        if too_long:
            return too_long
    refs = {s: SymbolRef(c.bid, c.offer, c.self_trade_prevention) for s, c in symbols.items()}
    problem = model_problem(bundle, price_scale, refs)
    if problem is not None:
        return _named(problem, bundle, cl_ord_ids)
    for price in bundle.price_constraints:
        box = {s: (Fraction(refs[s].bid), Fraction(refs[s].offer)) for s, _ in price.terms}
        if unattainable(price, box) is not None:
            low = sum(
                (Fraction(a) * box[s][0 if a > 0 else 1] for s, a in price.terms), Fraction(0)
            )
            high = sum(
                (Fraction(a) * box[s][1 if a > 0 else 0] for s, a in price.terms), Fraction(0)
            )
            return (
                f"PriceConstraintRHS(20023) of price constraint {price.name}: "
                f"{price.render()} holds at no clearing prices within the reference "
                f"markets of its symbols, where its left-hand side lies in "
                f"[{fraction_text(low)}, {fraction_text(high)}]; the bundle could never fill"
            )
    return None


def _price_digits(price: PriceConstraint) -> str | None:
    """Why a price constraint's numbers have too many digits, or None."""
    where = f"of price constraint {price.name}"
    for symbol, coefficient in price.terms:
        if _digits(coefficient) > MAX_COEFFICIENT_DIGITS:
            return (
                f"PriceTermCoefficient(20026) {where}, symbol {symbol}: {coefficient:f} has "
                f"{_digits(coefficient)} significant digits; at most {MAX_COEFFICIENT_DIGITS}"
            )
    if _digits(price.rhs) > MAX_COEFFICIENT_DIGITS:
        return (
            f"PriceConstraintRHS(20023) {where}: {price.rhs:f} has {_digits(price.rhs)} "
            f"significant digits; at most {MAX_COEFFICIENT_DIGITS}"
        )
    return None


def _digits(value: Decimal) -> int:
    """Significant digits, trailing zeros not counted (``252.000`` has 3; 0 has 0)."""
    return 0 if not value else len(value.normalize().as_tuple().digits)


def _named(problem: Unmodellable, bundle: OrderBundle, cl_ord_ids: Sequence[str]) -> str:
    """``problem`` with the FIX field at fault named."""
    if problem.price_constraint is not None:
        field = {
            "price_term": "PriceTermCoefficient(20026)s",
            "price_rhs": "PriceConstraintRHS(20023)",
        }.get(problem.part, "PriceTermSymbol(20025)")
        name = bundle.price_constraints[problem.price_constraint].name
        return f"{field} of price constraint {name}: {problem.text}"
    if problem.leg is not None:
        field = "Price(44)" if problem.part == "price" else "OrderQty(38)"
        symbol = bundle.legs[problem.leg].symbol
        return f"{field} of order {cl_ord_ids[problem.leg]} ({symbol}): {problem.text}"
    if problem.constraint is not None:
        field = "ConstraintRHS(20013)" if problem.part == "rhs" else "TermCoefficient(20016)s"
        name = bundle.constraints[problem.constraint].name
        return f"{field} of constraint {name}: {problem.text}"
    return f"MinTotalFill(20017): {problem.text}"
