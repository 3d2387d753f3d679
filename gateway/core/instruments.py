"""The counterparty's instruments: what a bundle may trade, in which lots, on which
price grid, and the reference market the price collar measures against.

The gateway receives them in the counterparty's SecurityList (35=y; codec in
:mod:`gateway.fix.venue_codec`), keeps the latest in its journal, or reads a
static file (:class:`gateway.router.config.InstrumentsConfig`); the checks that
use them are :mod:`gateway.router.risk`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Literal

__all__ = ["Instrument", "InstrumentList", "Source"]

Source = Literal["venue", "journal", "file"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument as the venue lists it (SecurityList, 35=y).

    Attributes:
        symbol: Symbol (55).
        round_lot: RoundLot (561): a leg's lot size must be a multiple of it.
        tick: MinPriceIncrement (969): a limit price must be a multiple of it.
        bid / offer: the venue's reference market, BidPx (132) / OfferPx (133),
            if it sends one; the price collar needs both.
        tradable: False when SecurityTradingStatus (326) says it is halted or not
            available for trading.
    """

    symbol: str
    round_lot: int
    tick: Decimal
    bid: Decimal | None = None
    offer: Decimal | None = None
    tradable: bool = True
    #: The tick and the reference price as (numerator, denominator) integers: the
    #: checks run per leg on the state owner, in integer arithmetic.
    tick_ratio: tuple[int, int] = field(init=False, repr=False, compare=False)
    reference_ratio: tuple[int, int] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tick_ratio", self.tick.as_integer_ratio())
        reference = self.reference
        ratio = None if reference is None else (reference.numerator, reference.denominator)
        object.__setattr__(self, "reference_ratio", ratio)

    @property
    def reference(self) -> Fraction | None:
        """The reference price: the mid of bid and offer, when both are known."""
        if self.bid is None or self.offer is None:
            return None
        return (Fraction(self.bid) + Fraction(self.offer)) / 2


@dataclass(frozen=True, slots=True)
class InstrumentList:
    """The instruments the checks use, and where they came from."""

    instruments: Mapping[str, Instrument]
    source: Source
    received_at: float = 0.0  # time.time() when it arrived (journal: when it first did)
    request_id: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "received_at": self.received_at,
                "request_id": self.request_id,
                "instruments": [
                    [i.symbol, i.round_lot, str(i.tick), _text(i.bid), _text(i.offer), i.tradable]
                    for i in self.instruments.values()
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str, source: Source) -> InstrumentList:
        data = json.loads(text)
        instruments = {
            symbol: Instrument(symbol, int(lot), Decimal(tick), _dec(bid), _dec(offer), bool(ok))
            for symbol, lot, tick, bid, offer, ok in data["instruments"]
        }
        return cls(instruments, source, float(data["received_at"]), str(data["request_id"]))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
