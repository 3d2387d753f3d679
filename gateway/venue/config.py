"""``config/venue.yaml``: the simulated counterparty's configuration.

Prices are on grids the auction can model exactly (see :mod:`gateway.venue.auction`):
each symbol's ``tick`` and the liquidity's ``tick`` have at most
:data:`MAX_TICK_PLACES` decimal places, each symbol's bid and offer are multiples
of its tick, and one lot at the offer fits the auction's objective bound on the
finest grid of the whole config (:meth:`VenueAppConfig.price_scale`).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, model_validator

from gateway.core.config import CompID, FixFilesConfig, Port, load_model
from gateway.core.fields import FrozenModel, PositiveDecimal, PositiveInt
from gateway.venue.auction import MAX_COST, AuctionConfig, price_grid

__all__ = [
    "MAX_TICK_PLACES",
    "LiquidityConfig",
    "SymbolConfig",
    "VenueAppConfig",
    "VenueOpsConfig",
    "load_venue_config",
]

#: Most decimal places of a tick (so a tick is at least 10^-6). Two prices on a grid
#: differ by a tick or more, far beyond HiGHS's feasibility tolerance (10^-7 on the
#: price rows), so the solver cannot put a clearing price between them.
MAX_TICK_PLACES: Final = 6


def _tick(value: Decimal) -> Decimal:
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else 0
    if places > MAX_TICK_PLACES:
        raise ValueError(f"tick {value:f} has {places} decimal places; at most {MAX_TICK_PLACES}")
    return value


#: A price grid: positive, at most MAX_TICK_PLACES decimal places.
Tick = Annotated[PositiveDecimal, AfterValidator(_tick)]


class SymbolConfig(FrozenModel):
    """A tradable symbol: reference market, lot size and tick.

    Attributes:
        bid, offer: the reference market; each auction's clearing price lies within
            [bid, offer]. Both multiples of ``tick``, bid below offer.
        lot_size: the venue's lot; a bundle's RoundLot must be a multiple of it.
        tick: price grid of the symbol: a bundle's limit price must be a multiple
            of it (default 0.01; at most :data:`MAX_TICK_PLACES` decimal places).
        self_trade_prevention: in one auction, the bundles of one client (their
            owner, see :class:`~gateway.venue.auction.Participant`) fill on one side
            of this symbol only, buying or selling, never both (default true;
            bundles whose owner is unknown are never prevented). docs/auction.md.
    """

    bid: PositiveDecimal
    offer: PositiveDecimal
    lot_size: PositiveInt = 100
    tick: Tick = Decimal("0.01")
    self_trade_prevention: bool = True

    @model_validator(mode="after")
    def _on_grid(self) -> SymbolConfig:
        if self.bid >= self.offer:
            raise ValueError(f"bid {self.bid} must be below offer {self.offer}")
        for name, price in (("bid", self.bid), ("offer", self.offer)):
            if (Fraction(price) / Fraction(self.tick)).denominator != 1:
                raise ValueError(f"{name} {price} is not a multiple of the tick {self.tick}")
        return self


class LiquidityConfig(FrozenModel):
    """Synthetic contra liquidity added to every auction (seeded).

    Attributes:
        touch_lots: lots resting at the reference bid and at the offer per symbol.
        flow_orders: random orders per symbol per auction, side and price uniform
            inside [bid, offer] on the tick grid.
        flow_max_lots: largest random order, in lots.
        tick: price grid of the random orders (at most :data:`MAX_TICK_PLACES`
            decimal places; the symbols' ticks apply to bundles only).
    """

    touch_lots: int = Field(default=10, ge=0)
    flow_orders: int = Field(default=2, ge=0)
    flow_max_lots: PositiveInt = 30
    tick: Tick = Decimal("0.01")


class VenueOpsConfig(FrozenModel):
    """The venue's own ``/metrics`` and ``/healthz`` (:mod:`gateway.ops.venue`), served
    on a thread of its own; the auctions never wait for it.

    Attributes:
        enabled: serve them (default false).
        host: the address it binds (default 127.0.0.1: this machine only).
        port: its TCP port (default 8781; the gateway's surface defaults to 8780).
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 8781


class VenueAppConfig(FrozenModel):
    """``config/venue.yaml``.

    Attributes:
        port: TCP port the gateway connects to.
        sender_comp_id: the venue's CompID (default VENUE).
        allowed_comp_ids: gateway CompIDs allowed to log on (default [BIDGW]).
        auction_interval_ms: time between auctions (default 100).
        seed: random seed of the synthetic liquidity and tie-breaks (default 7).
        auction: clearing solver, time limit and gap.
        symbols: tradable symbols with their reference market, lot and tick;
            bundles naming others are rejected.
        liquidity: synthetic contra liquidity.
        store / store_dir / fix_log_dir: QuickFIX store and logs.
        fix: the FIX session day and the size of the FIX logs
            (:class:`~gateway.core.config.FixFilesConfig`; the gateway's must match).
        journal: SQLite file holding the venue's inbox and book, so a venue
            killed mid-stream restarts with every bundle it accepted and every
            fill it made (default: none, the book lives in memory).
        journal_retention_hours: finished, reported book rows and handled inbox
            rows older than this are compacted away (default 24); with a journal,
            a repeated ListID is answered with its bundle's state, and a reused
            ListID or ClOrdID refused, for this long.
        journal_compact_every_secs: how often the venue compacts its journal
            while running, on its own state thread (default 300).
        retain_done_secs: how long a finished bundle, with its ListID and
            ClOrdIDs, stays in memory (default 60). Later, a repeated ListID is
            answered from the journal; without a journal, the venue has
            forgotten it and books the repeat as a new bundle.
        ops: the venue's ``/metrics`` and ``/healthz`` (off by default).
    """

    port: Port
    sender_comp_id: CompID = "VENUE"
    allowed_comp_ids: list[CompID] = Field(default_factory=lambda: ["BIDGW"], min_length=1)
    auction_interval_ms: PositiveInt = 100
    seed: int = 7
    auction: AuctionConfig = Field(default_factory=AuctionConfig)
    symbols: dict[str, SymbolConfig] = Field(min_length=1)
    liquidity: LiquidityConfig = Field(default_factory=LiquidityConfig)
    store: Literal["file", "memory"] = "file"
    store_dir: Path = Path("var/venue/store")
    fix_log_dir: Path | None = None
    fix: FixFilesConfig = Field(default_factory=FixFilesConfig)
    journal: Path | None = None
    journal_retention_hours: PositiveDecimal = Decimal(24)
    journal_compact_every_secs: PositiveDecimal = Decimal(300)
    retain_done_secs: PositiveDecimal = Decimal(60)
    ops: VenueOpsConfig = Field(default_factory=VenueOpsConfig)

    @model_validator(mode="after")
    def _fits_the_auction(self) -> VenueAppConfig:
        scale = self.price_scale()
        for symbol, ref in self.symbols.items():
            cost = Fraction(ref.offer) * scale * ref.lot_size
            if cost > MAX_COST:
                raise ValueError(
                    f"symbol {symbol}: a lot of {ref.lot_size} at the offer {ref.offer} counts "
                    f"{cost} units of the price grid 1/{scale} in the auction's objective; "
                    f"at most {MAX_COST} (use a coarser tick or a smaller lot)"
                )
        return self

    def price_scale(self) -> int:
        """``S``: every price the venue accepts or makes (a tick, bid or offer, a limit
        on a tick, a synthetic order on the liquidity's tick) times ``S`` is a whole
        number; the auction's price grid is never finer than ``1/S``."""
        prices: list[Decimal] = [self.liquidity.tick]
        for ref in self.symbols.values():
            prices += [ref.tick, ref.bid, ref.offer]
        return price_grid(prices)


def load_venue_config(path: Path) -> VenueAppConfig:
    """Read and validate a venue config file."""
    return load_model(path, VenueAppConfig, ("store_dir", "fix_log_dir", "journal"))
