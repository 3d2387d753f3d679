"""``config/venue.yaml``: the simulated counterparty's configuration."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field

from gateway.core.config import CompID, Port, load_model
from gateway.core.fields import FrozenModel, PositiveDecimal, PositiveInt
from gateway.venue.auction import AuctionConfig

__all__ = ["LiquidityConfig", "SymbolConfig", "VenueAppConfig", "load_venue_config"]


class SymbolConfig(FrozenModel):
    """A tradable symbol: reference market and lot size."""

    bid: PositiveDecimal
    offer: PositiveDecimal
    lot_size: PositiveInt = 100


class LiquidityConfig(FrozenModel):
    """Synthetic contra liquidity added to every auction (seeded).

    Attributes:
        touch_lots: lots resting at the reference bid and at the offer per symbol.
        flow_orders: random orders per symbol per auction, side and price uniform
            inside [bid, offer] on the tick grid.
        flow_max_lots: largest random order, in lots.
        tick: price grid of the random orders.
    """

    touch_lots: int = Field(default=10, ge=0)
    flow_orders: int = Field(default=2, ge=0)
    flow_max_lots: PositiveInt = 30
    tick: PositiveDecimal = Decimal("0.01")


class VenueAppConfig(FrozenModel):
    """``config/venue.yaml``.

    Attributes:
        port: TCP port the gateway connects to.
        sender_comp_id: the venue's CompID (default VENUE).
        allowed_comp_ids: gateway CompIDs allowed to log on (default [BIDGW]).
        auction_interval_ms: time between auctions (default 100).
        seed: random seed of the synthetic liquidity and tie-breaks (default 7).
        auction: clearing solver, time limit and gap.
        symbols: tradable symbols; bundles naming others are rejected.
        liquidity: synthetic contra liquidity.
        store / store_dir / fix_log_dir: QuickFIX store and logs.
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
    journal: Path | None = None
    journal_retention_hours: PositiveDecimal = Decimal(24)
    journal_compact_every_secs: PositiveDecimal = Decimal(300)
    retain_done_secs: PositiveDecimal = Decimal(60)


def load_venue_config(path: Path) -> VenueAppConfig:
    """Read and validate a venue config file."""
    return load_model(path, VenueAppConfig, ("store_dir", "fix_log_dir", "journal"))
