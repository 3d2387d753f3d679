"""The gateway's YAML configuration, validated by pydantic.

Errors name the file, the key path and what is wrong, e.g.::

    config/gateway.yaml: invalid configuration: presolve.time_limit_ms: Input should be
    greater than 0

Paths inside a config file (``strategies_file``) are relative to that file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field

from gateway.core.config import CompID, FixFilesConfig, Port, load_model
from gateway.core.fields import ExactDecimal, FrozenModel, PositiveDecimal, PositiveInt, Symbol
from gateway.core.instruments import Instrument, InstrumentList
from gateway.core.plugins import StrategyRegistry
from gateway.router.risk import RiskLimits
from gateway.solver.presolve import PresolveConfig

__all__ = [
    "AppConfig",
    "ClientLimits",
    "ClientsConfig",
    "Credentials",
    "InstrumentFile",
    "InstrumentsConfig",
    "OpsConfig",
    "RiskConfig",
    "VenueConfig",
    "load_config",
]


class Credentials(FrozenModel):
    """A client's logon credentials: Username (553) and the SHA-256 of Password (554).

    Attributes:
        username: expected Username (553).
        password_sha256: hex SHA-256 digest of the expected Password (554), so the
            config never holds the password itself
            (``python -c "import hashlib; print(hashlib.sha256(b'secret').hexdigest())"``).
    """

    username: str = Field(min_length=1)
    password_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ClientLimits(FrozenModel):
    """Per-client limits; a breach rejects that request with a reason.

    Attributes:
        max_open_bundles: accepted bundles not yet done (default 1000).
        max_legs: legs of one bundle, as its strategy built it (default 50); the
            orders of a NewOrderList are limited by ``max_orders_per_list``.
        max_notional: Σ limit price × quantity over a bundle's legs (default 1e9).
        max_messages_per_second: application messages per second, as a token
            bucket with one second of burst (default 200).
        max_concurrent_solves: lists of this client built and pre-solved at once
            while another client's lists wait (default: no cap beyond the workers).
        max_solver_seconds_per_second: worker time this client may use per second
            (one second of burst) before its lists wait behind other clients'
            (default 1: one worker's worth). Neither cap idles a worker: with no
            other client waiting, a capped client's lists still run.
        max_open_qty: per symbol (``"*"``: any other symbol), the quantity this
            client's open bundles may still fill plus a new bundle's, at most
            (default: no limit).
        cancel_on_disconnect: when the client's session drops, cancel its open
            bundles at the counterparty after ``cancel_on_disconnect_grace_secs``
            unless it is back by then: ``on``, ``off``, or ``auto`` (the default:
            on when its last Logon carried ResetSeqNumFlag (141) = Y, since such a
            desk starts from nothing when it returns; off for a desk that keeps its
            sequence numbers and so receives everything it missed).
        cancel_on_disconnect_grace_secs: the grace period (default 5).
    """

    max_open_bundles: PositiveInt = 1000
    max_legs: PositiveInt = 50
    max_notional: PositiveDecimal = Decimal(10**9)
    max_messages_per_second: PositiveInt = 200
    max_concurrent_solves: PositiveInt | None = None
    max_solver_seconds_per_second: PositiveDecimal = Decimal(1)
    max_open_qty: dict[str, PositiveInt] = Field(default_factory=dict)
    cancel_on_disconnect: Literal["auto", "on", "off"] = "auto"
    cancel_on_disconnect_grace_secs: ExactDecimal = Field(default=Decimal(5), ge=0, le=3600)


class ClientsConfig(FrozenModel):
    """The client-facing side: the front door on ``port`` and the acceptor behind it.

    Desks connect to the front door (:mod:`gateway.fix.frontdoor`), which checks
    each connection's Logon before QuickFIX sees it and forwards the ones that
    pass to the QuickFIX acceptor on ``internal_port``.

    Attributes:
        port: TCP port clients connect to (the front door's).
        host: the address the front door listens on (default 0.0.0.0: every
            interface; e.g. 127.0.0.1 when desks reach it through the TLS proxy).
        sender_comp_id: the gateway's CompID towards clients (default BIDGW).
        allowed_comp_ids: client CompIDs with a session; any other is refused at logon.
        allowed_remote_addresses: peer IP addresses allowed to connect; any other
            connection is closed at once (default 127.0.0.1; an empty list allows any).
        credentials: Username/Password per CompID; when given for any client,
            every client must log on with its own (others are refused at logon).
        limits: default per-client limits; ``client_limits`` overrides them per CompID.
        internal_port: the QuickFIX acceptor's port behind the front door (default:
            a free port picked at start). Only the front door connects to it, from
            127.0.0.1. QuickFIX 1.16 binds it on every interface; on Linux a socket
            filter drops packets from any other address
            (:func:`~gateway.fix.engine.loopback_only`), elsewhere firewall it.
        max_unauthenticated_connections: connections that have not logged on yet, at
            most; one more closes the oldest of them (default 64).
        logon_timeout_secs: a connection whose Logon has not been answered this long
            after it connected is closed (default 10).
        max_outbound_buffer_bytes: bytes waiting to be sent to a client that is not
            reading them, at most; beyond it the client is disconnected as a slow
            consumer and its messages stay in the FIX store for the resend at its
            next logon (default 16 MiB).
        max_message_bytes: the longest message a logged-on client may send
            (BodyLength and the header and trailer around it); QuickFIX reads a
            message whole before parsing it, so a longer one closes the connection
            (``frontdoor.message_too_large`` in the log) instead of being buffered
            (default 1 MiB; a list of 100 orders with 32 strategy parameters each is
            about 200 KB).
    """

    port: Port
    host: str = "0.0.0.0"
    sender_comp_id: CompID = "BIDGW"
    allowed_comp_ids: list[CompID] = Field(min_length=1)
    allowed_remote_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    credentials: dict[CompID, Credentials] = Field(default_factory=dict)
    limits: ClientLimits = Field(default_factory=ClientLimits)
    client_limits: dict[CompID, ClientLimits] = Field(default_factory=dict)
    internal_port: Port | None = None
    max_unauthenticated_connections: PositiveInt = 64
    logon_timeout_secs: PositiveDecimal = Decimal(10)
    max_outbound_buffer_bytes: PositiveInt = 16 * 2**20
    max_message_bytes: PositiveInt = 2**20

    def limits_for(self, comp_id: str) -> ClientLimits:
        return self.client_limits.get(comp_id, self.limits)


class VenueConfig(FrozenModel):
    """The initiator session to the counterparty.

    Attributes:
        host / port: where the counterparty's acceptor listens.
        sender_comp_id: the gateway's CompID towards the counterparty (default BIDGW).
        target_comp_id: the counterparty's CompID (default VENUE).
        heartbeat_secs: HeartBtInt (default 30).
        reconnect_secs: ReconnectInterval after a disconnect (default 5).
        reconcile_on_logon: after every logon, ask the counterparty about each open
            bundle it was sent (ListStatusRequest, 35=M): its ListStatus is relayed to
            the desk as any other, and a bundle it answers it does not hold (unknown
            ID) is closed (default true). Turn it off for a counterparty that does
            not serve ListStatusRequest.
        accept_sequence_restart: when the counterparty answers the gateway's Logon
            with a MsgSeqNum below the one expected and no ResetSeqNumFlag (it lost
            its FIX store), log ``venue.sequence_restarted`` and expect that number
            from then on: the next Logon (``reconnect_secs`` later) is taken, the
            gateway's own numbers go on, and the counterparty's ResendRequest for
            them is answered as any (default true). Off: QuickFIX's standard answer,
            a Logout at every attempt until the counterparty's numbers catch up or
            an operator resets one side.
    """

    host: str = "127.0.0.1"
    port: Port
    sender_comp_id: CompID = "BIDGW"
    target_comp_id: CompID = "VENUE"
    heartbeat_secs: PositiveInt = 30
    reconnect_secs: PositiveInt = 5
    reconcile_on_logon: bool = True
    accept_sequence_restart: bool = True


class OpsConfig(FrozenModel):
    """The operator surface (:mod:`gateway.ops`): ``/metrics``, ``/healthz``, ``/readyz``,
    the live page and its admin actions, served by the gateway process on its own thread.

    Attributes:
        enabled: serve it (default false).
        host: the address it binds (default 127.0.0.1: this machine only).
        port: its TCP port (default 8780).
        admin_token_sha256: hex SHA-256 of the bearer token every admin action
            (POST) needs; none (the default) refuses every admin action
            (``python -c "import hashlib; print(hashlib.sha256(b'token').hexdigest())"``).
        recent_decisions: decisions the page lists, newest first (default 50).
        page_bundles: open bundles the page lists at most (default 200).
        refresh_ms: how often a live page's stream looks for a change (default 500).
        max_streams: live pages connected at once, at most (default 8).
        allowed_hosts: the names a request's Host header may carry (default
            127.0.0.1 and localhost); any other is answered 400, so a web page
            that rebinds its own domain name to this machine cannot read the
            surface through a browser. Add the machine's name when ``host`` is not
            loopback; ``["*"]`` accepts any.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 8780
    admin_token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    recent_decisions: PositiveInt = 50
    page_bundles: PositiveInt = 200
    refresh_ms: PositiveInt = 500
    max_streams: PositiveInt = 8
    allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost"])


class InstrumentEntry(FrozenModel):
    """One instrument of a static instruments file (the shape of the venue's symbols).

    Attributes:
        lot_size: the round lot; a leg's lot size must be a multiple of it.
        tick: the price grid; a limit price must be a multiple of it (default 0.01).
        bid / offer: the reference market the price collar measures against
            (optional; without both, no collar for the symbol).
        tradable: false to refuse every bundle on the symbol (default true).
    """

    lot_size: PositiveInt = 100
    tick: PositiveDecimal = Decimal("0.01")
    bid: ExactDecimal | None = None
    offer: ExactDecimal | None = None
    tradable: bool = True


class InstrumentFile(FrozenModel):
    """A static instruments file (``instruments.file``): ``symbols: {AAAA: {...}}``."""

    symbols: dict[Symbol, InstrumentEntry] = Field(min_length=1)

    def instrument_list(self) -> InstrumentList:
        return InstrumentList(
            {
                symbol: Instrument(
                    symbol, entry.lot_size, entry.tick, entry.bid, entry.offer, entry.tradable
                )
                for symbol, entry in self.symbols.items()
            },
            "file",
        )


class InstrumentsConfig(FrozenModel):
    """Where the gateway's instrument list comes from (README "Instruments and risk").

    Attributes:
        request: ask the counterparty for its instruments with a SecurityListRequest
            (35=x) after every logon, subscribed to its updates (default true). Its
            SecurityList (35=y) replaces any other list and is journaled, so a
            restart before the counterparty answers uses the last one.
        file: a static instruments file (YAML, ``symbols:`` as in venue.yaml): the
            list until the counterparty's arrives, and the list for a counterparty
            that does not support the request. Relative to the gateway config.
    """

    request: bool = True
    file: Path | None = None

    def load_file(self) -> InstrumentList | None:
        if self.file is None:
            return None
        return load_model(self.file, InstrumentFile, ()).instrument_list()


class RiskConfig(FrozenModel):
    """Gateway-wide pre-trade controls; each breach denies the list with its reason.

    Attributes:
        price_collar_pct: a buy's limit price more than this percentage above the
            instrument's reference price (the mid of the counterparty's bid and
            offer), or a sell's more than this below it, is denied (default 10;
            null turns the collar off).
        restricted_symbols: symbols no list may trade.
        max_order_qty: per symbol (``"*"``: any other), the largest quantity of one
            leg (default: no limit).
    """

    price_collar_pct: PositiveDecimal | None = Decimal(10)
    restricted_symbols: list[Symbol] = Field(default_factory=list)
    max_order_qty: dict[str, PositiveInt] = Field(default_factory=dict)

    def limits(self) -> RiskLimits:
        return RiskLimits(
            self.price_collar_pct, frozenset(self.restricted_symbols), dict(self.max_order_qty)
        )


class AppConfig(FrozenModel):
    """Top-level gateway configuration.

    Attributes:
        strategies_file: strategies YAML (enable/disable, per-strategy config,
            third-party plugins); default: every built-in with its defaults.
        presolve: pre-solver settings.
        clients: the client-facing acceptor (needed by ``bidgw run``).
        venue: the session to the counterparty (needed by ``bidgw run``).
        store: ``file`` (default: sequence numbers and messages survive restarts)
            or ``memory``.
        store_dir: QuickFIX message store directory (default var/gateway/store).
        fix_log_dir: QuickFIX message/event logs (default var/gateway/fixlog).
        fix: the FIX session day (when sequence numbers and the message store
            reset) and the size of the FIX logs, for the desks' sessions and the
            venue's (:class:`~gateway.core.config.FixFilesConfig`).
        queue_max: client requests allowed to wait for the worker; more are
            rejected at once as "gateway busy" (default 10000).
        journal: SQLite journal of messages, decisions and bundles; a restart
            resumes from it (default var/gateway/journal.sqlite; null disables it).
        journal_full_sync: fsync every journal commit (survives power loss; the
            default survives a killed process).
        max_orders_per_list: a NewOrderList with more orders is refused before it
            is decoded (default 100).
        max_id_length: characters in a ListID (66) or ClOrdID (11); a message with a
            longer one is refused with a BusinessMessageReject before it is
            journaled, and the id is not echoed (default 64).
        max_price_decimals: decimal places of a limit price, Price (44) (default 8).
        max_significant_digits: significant digits of a numeric strategy parameter
            (default 12); the pre-solver's integers grow with every digit.
        max_strategy_parameters: StrategyParameters (957) per order and on the list
            (default 32); a larger group is refused unread.
        presolve_workers: threads building and pre-solving in parallel, served
            round-robin across clients, and as many solver processes for the bundles
            the fast path does not decide (gateway/solver/sandbox.py; default 2, the
            core count measured on).
        retain_done_secs: how long a finished bundle stays in memory for late
            reports, and a decided list's ids for duplicate checks without the
            journal (default 60); older ids are found in the journal.
        journal_retention_hours: finished journal rows older than this are
            compacted away; duplicate ListIDs/ClOrdIDs are detected for this long
            (default 24: a trading day).
        journal_compact_every_secs: how often the gateway compacts its journal
            while running (default 300).
        ops: the operator surface (default: off).
        instruments: where the instrument list comes from (default: the
            counterparty, over FIX).
        risk: gateway-wide pre-trade controls (price collar, restricted symbols,
            per-symbol order size).
    """

    strategies_file: Path | None = None
    presolve: PresolveConfig = Field(default_factory=PresolveConfig)
    clients: ClientsConfig | None = None
    venue: VenueConfig | None = None
    store: Literal["file", "memory"] = "file"
    store_dir: Path = Path("var/gateway/store")
    fix_log_dir: Path = Path("var/gateway/fixlog")
    fix: FixFilesConfig = Field(default_factory=FixFilesConfig)
    queue_max: PositiveInt = 10_000
    presolve_workers: PositiveInt = 2
    max_orders_per_list: PositiveInt = 100
    max_id_length: PositiveInt = 64
    max_price_decimals: int = Field(default=8, ge=0, le=18)
    max_significant_digits: int = Field(default=12, ge=1, le=30)
    max_strategy_parameters: PositiveInt = 32
    journal: Path | None = Path("var/gateway/journal.sqlite")
    journal_full_sync: bool = False
    retain_done_secs: PositiveDecimal = Decimal(60)
    journal_retention_hours: PositiveDecimal = Decimal(24)
    journal_compact_every_secs: PositiveDecimal = Decimal(300)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    instruments: InstrumentsConfig = Field(default_factory=InstrumentsConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)

    def registry(self) -> StrategyRegistry:
        """Load the configured strategies (errors name the plugin and cause)."""
        if self.strategies_file is None:
            return StrategyRegistry.from_settings()
        return StrategyRegistry.from_file(self.strategies_file)


def load_config(path: Path) -> AppConfig:
    """Read and validate a gateway config file."""
    return load_model(
        path,
        AppConfig,
        ("strategies_file", "store_dir", "fix_log_dir", "journal", "instruments.file"),
    )
