"""The gateway's YAML configuration, validated by pydantic.

Errors name the file, the key path and what is wrong, e.g.::

    config/gateway.yaml: invalid configuration: presolve.time_limit_ms: Input should be
    greater than 0

Paths inside a config file (``strategies_file``) are relative to that file.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, Field, ValidationError

from gateway.errors import ConfigError
from gateway.fields import FrozenModel, PositiveDecimal, PositiveInt, field_issues
from gateway.plugins import StrategyRegistry
from gateway.presolve import PresolveConfig
from gateway.yamlio import load_yaml

__all__ = [
    "AppConfig",
    "ClientConfig",
    "ClientsConfig",
    "CompID",
    "Port",
    "VenueConfig",
    "load_client_config",
    "load_config",
    "load_model",
]

_COMP_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


def _comp_id(value: str) -> str:
    if not _COMP_ID.match(value):
        raise ValueError(f"CompID must be 1-32 letters, digits or _ . -, got {value!r}")
    return value


#: A FIX CompID.
CompID = Annotated[str, AfterValidator(_comp_id)]
#: A TCP port.
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]


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
        max_legs: orders per list (default 50).
        max_notional: Σ limit price × quantity over a bundle's legs (default 1e9).
        max_messages_per_second: application messages per second, as a token
            bucket with one second of burst (default 200).
    """

    max_open_bundles: PositiveInt = 1000
    max_legs: PositiveInt = 50
    max_notional: PositiveDecimal = Decimal(10**9)
    max_messages_per_second: PositiveInt = 200


class ClientsConfig(FrozenModel):
    """The client-facing acceptor.

    Attributes:
        port: TCP port clients connect to (QuickFIX 1.16 binds all interfaces).
        sender_comp_id: the gateway's CompID towards clients (default BIDGW).
        allowed_comp_ids: client CompIDs with a session; any other is refused at logon.
        allowed_remote_addresses: peer IP addresses allowed to connect
            (default 127.0.0.1; an empty list allows any).
        credentials: Username/Password per CompID; when given for any client,
            every client must log on with its own (others are refused at logon).
        limits: default per-client limits; ``client_limits`` overrides them per CompID.
    """

    port: Port
    sender_comp_id: CompID = "BIDGW"
    allowed_comp_ids: list[CompID] = Field(min_length=1)
    allowed_remote_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    credentials: dict[CompID, Credentials] = Field(default_factory=dict)
    limits: ClientLimits = Field(default_factory=ClientLimits)
    client_limits: dict[CompID, ClientLimits] = Field(default_factory=dict)

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
    """

    host: str = "127.0.0.1"
    port: Port
    sender_comp_id: CompID = "BIDGW"
    target_comp_id: CompID = "VENUE"
    heartbeat_secs: PositiveInt = 30
    reconnect_secs: PositiveInt = 5


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
        queue_max: client requests allowed to wait for the worker; more are
            rejected at once as "gateway busy" (default 10000).
        journal: SQLite journal of messages, decisions and bundles; a restart
            resumes from it (default var/gateway/journal.sqlite; null disables it).
        journal_full_sync: fsync every journal commit (survives power loss; the
            default survives a killed process).
        max_orders_per_list: a NewOrderList with more orders is refused before it
            is decoded (default 100).
        presolve_workers: threads pre-solving in parallel (HiGHS releases the
            GIL while solving; default 2, the core count measured on).
    """

    strategies_file: Path | None = None
    presolve: PresolveConfig = Field(default_factory=PresolveConfig)
    clients: ClientsConfig | None = None
    venue: VenueConfig | None = None
    store: Literal["file", "memory"] = "file"
    store_dir: Path = Path("var/gateway/store")
    fix_log_dir: Path = Path("var/gateway/fixlog")
    queue_max: PositiveInt = 10_000
    presolve_workers: PositiveInt = 2
    max_orders_per_list: PositiveInt = 100
    journal: Path | None = Path("var/gateway/journal.sqlite")
    journal_full_sync: bool = False

    def registry(self) -> StrategyRegistry:
        """Load the configured strategies (errors name the plugin and cause)."""
        if self.strategies_file is None:
            return StrategyRegistry.from_settings()
        return StrategyRegistry.from_file(self.strategies_file)


def _resolve(raw: dict[str, Any], base: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """Paths in a config file are relative to the file's directory."""
    resolved = dict(raw)
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str):
            resolved[key] = (base / value).resolve()
    return resolved


def _load_mapping(path: Path) -> dict[str, Any]:
    raw = load_yaml(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", source=str(path))
    return raw


_M = TypeVar("_M", bound=FrozenModel)


def load_model(
    path: Path, model: type[_M], path_keys: tuple[str, ...] = ("store_dir", "fix_log_dir")
) -> _M:
    """Read a YAML file into ``model``; ``path_keys`` are resolved against its folder.

    Raises:
        ConfigError: naming the file, each key path and what is wrong.
    """
    raw = _resolve(_load_mapping(path), path.parent, path_keys)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            "invalid configuration", source=str(path), issues=field_issues(exc)
        ) from None


def load_config(path: Path) -> AppConfig:
    """Read and validate a gateway config file."""
    return load_model(path, AppConfig, ("strategies_file", "store_dir", "fix_log_dir", "journal"))


class ClientConfig(FrozenModel):
    """``bidgw submit``'s session to the gateway (config/client.yaml).

    Attributes:
        host / port: where the gateway's client acceptor listens.
        sender_comp_id: this client's CompID (must be allowed by the gateway).
        target_comp_id: the gateway's CompID (default BIDGW).
        heartbeat_secs: HeartBtInt (default 30).
        reset_on_logon: send ResetSeqNumFlag at logon (default true: a one-shot
            command line client has no messages to recover).
        store: ``file`` or ``memory`` (default memory for this one-shot client).
        store_dir / fix_log_dir: QuickFIX store and logs (defaults under var/client).
        username / password: sent as Username (553) / Password (554) in the Logon
            when the gateway requires credentials.
    """

    host: str = "127.0.0.1"
    port: Port
    sender_comp_id: CompID
    target_comp_id: CompID = "BIDGW"
    heartbeat_secs: PositiveInt = 30
    reset_on_logon: bool = True
    store: Literal["file", "memory"] = "memory"
    store_dir: Path = Path("var/client/store")
    fix_log_dir: Path = Path("var/client/fixlog")
    username: str | None = None
    password: str | None = None


def load_client_config(path: Path) -> ClientConfig:
    """Read and validate a client config file."""
    return load_model(path, ClientConfig)
