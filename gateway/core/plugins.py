"""Strategy plugins: the protocol, the strategies file, and one loader.

A strategy turns a bidder payload into an :class:`~gateway.core.bundle.OrderBundle`
and nothing else: it never sees FIX or the solver. It is a class with

* ``name`` — the bidder type it handles (``single_factor_hedged``);
* ``payload_model`` — a pydantic model of its ``bidder_data``;
* ``config_model`` — a pydantic model of its per-strategy config;
* ``build(payload, config, context) -> OrderBundle``;
* optionally ``describe_fill(payload, bundle, fills) -> FillCheck``: how a fill
  of its bundle measures against the strategy's own bound (the achieved hedge
  ratio, beta drift, ...), in exact arithmetic (:class:`FillDescriber`).

Built-in strategies are entry points in the ``bidgw.strategies`` group of
``pyproject.toml``. A strategies YAML file may enable/disable them, set their
config, and add third-party plugins by entry-point name or ``module:Class``
path; both kinds become :class:`importlib.metadata.EntryPoint` objects and go
through the same loader, which wraps every failure in one
:class:`~gateway.core.errors.PluginError` naming the plugin and the cause.

A strategy may also be a *template*: no code, its bidding logic declared in
the strategies file (``template:``, inline or in a YAML file of its own) and
compiled when the file loads by a template engine, an entry point in the
``bidgw.templates`` group (``linear``, :mod:`strategies.templates`, by
default). The engine returns a strategy like any plugin's and the same checks
apply; its errors name the file, the line and the template
(:class:`TemplateSource`, docs/templates.md).

Plugin packages may also contribute ``bidgw`` subcommands, as entry points in
the ``bidgw.commands`` group (:class:`CommandPlugin`, :func:`load_commands`),
so the command line reaches a plugin's tools without importing its internals.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol, runtime_checkable

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
)

from gateway.core.bundle import OrderBundle
from gateway.core.errors import (
    ConfigError,
    FieldIssue,
    GatewayError,
    PayloadError,
    PluginError,
    UnknownStrategyError,
)
from gateway.core.fields import FrozenModel, PositiveInt, field_issues
from gateway.core.yamlio import loads_yaml

__all__ = [
    "COMMAND_GROUP",
    "DEFAULT_TEMPLATE_ENGINE",
    "ENTRY_POINT_GROUP",
    "TEMPLATE_GROUP",
    "BidderPayload",
    "BuildContext",
    "CommandPlugin",
    "ConfigPath",
    "FillCheck",
    "FillDescriber",
    "LoadedCommand",
    "LoadedStrategy",
    "StrategiesFile",
    "Strategy",
    "StrategyConfig",
    "StrategyRegistry",
    "StrategySettings",
    "StrategySummary",
    "TemplateEngine",
    "TemplateSource",
    "load_commands",
    "parse_envelope",
]

ENTRY_POINT_GROUP = "bidgw.strategies"
COMMAND_GROUP = "bidgw.commands"
TEMPLATE_GROUP = "bidgw.templates"
#: The template engine a ``template:`` entry uses unless its ``plugin`` names another.
DEFAULT_TEMPLATE_ENGINE = "linear"
_OBJECT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class StrategyConfig(FrozenModel):
    """Config every strategy understands; plugins may subclass it.

    Attributes:
        default_lot_size: lot size for positions that name none (default 100).
        max_legs: largest number of positions accepted in one payload (default 50).
    """

    default_lot_size: PositiveInt = 100
    max_legs: PositiveInt = 50


def _under_config_dir(value: Path, info: ValidationInfo) -> Path:
    base = info.context.get("config_dir") if isinstance(info.context, Mapping) else None
    return value if value.is_absolute() or base is None else Path(base) / value


#: A path in a strategy's config (a folder of data files, say): relative to the
#: strategies file that sets it, as every path in a config file is; relative to the
#: working directory where no file does (the built-ins' defaults, a test's settings).
ConfigPath = Annotated[
    Path,
    BeforeValidator(lambda v: Path(v) if isinstance(v, str) else v),
    AfterValidator(_under_config_dir),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildContext:
    """What a strategy needs besides its payload to build a bundle.

    Attributes:
        bundle_id: id the bundle will carry (the client's ListID at the gateway).
        lot_size: payload-level lot size; a position's own ``lot_size`` wins over
            it, and it wins over the strategy config's ``default_lot_size``.
        metadata: audit data carried on the bundle (client CompID, ...).
    """

    bundle_id: str
    lot_size: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Strategy(Protocol):
    """What a strategy plugin class provides (instantiated with no arguments).

    A strategy may also provide ``describe_fill`` (:class:`FillDescriber`);
    it is optional, so it is not part of this protocol's ``isinstance`` check.

    ``build`` runs on the gateway's worker pool, several bundles at once on
    different threads: it must not change shared state (the instance, module
    globals) without its own lock.
    """

    name: ClassVar[str]
    payload_model: ClassVar[type[BaseModel]]
    config_model: ClassVar[type[StrategyConfig]]

    def build(self, payload: Any, config: Any, context: BuildContext) -> OrderBundle:
        """Compile a validated payload into an order bundle."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FillCheck:
    """How one fill of a bundle measures against its strategy's bound.

    ``str(check)`` reads ``<measure> <achieved>, <bound>``, e.g.
    ``hedge ratio +0.5000, target +0.5000``.

    Attributes:
        measure: what is measured, in words (``hedge ratio``, ``beta drift``).
        achieved: its exact value for the fill; None when the fill leaves it
            undefined (nothing with a non-zero weight was filled).
        bound: the bound it is held to, in words (``target +0.5000``,
            ``band [+0.00, +0.25]``, ``bound ±0.0500``).
        within: whether the fill respects the bound. For a fill within the legs'
            limits and lots it agrees with the bundle's constraints.
    """

    measure: str
    achieved: Fraction | None
    bound: str
    within: bool

    def __str__(self) -> str:
        value = "undefined" if self.achieved is None else f"{float(self.achieved):+.4f}"
        return f"{self.measure} {value}, {self.bound}"


@runtime_checkable
class FillDescriber(Protocol):
    """The optional part of a strategy plugin: describe a fill in its own terms.

    ``describe_fill(payload, bundle, fills)`` gets the validated payload, the
    bundle ``build`` made from it and the quantity filled on each of the
    bundle's legs (in leg order, as for ``OrderBundle.violations``), and
    returns a :class:`FillCheck` computed from the strategy's own constraint
    definitions in exact arithmetic. Callers use it to report a fill (the
    demo); nothing on the order path depends on it.
    """

    def describe_fill(self, payload: Any, bundle: OrderBundle, fills: Sequence[int]) -> FillCheck:
        """The achieved measure of ``fills`` next to the strategy's bound."""
        ...


@runtime_checkable
class StrategySummary(Protocol):
    """Optional: a strategy that says more about itself than its payload model.

    ``summary()`` returns lines a person reads in ``bidgw strategies`` (a
    template's source, parameters and constraints).
    """

    def summary(self) -> Sequence[str]:
        """Lines describing the strategy, without trailing newlines."""
        ...


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """Where a template's definition was written, for error messages.

    Attributes:
        file: the YAML file it came from (None when given in code).
        lines: the 1-based line of each key path inside the definition, e.g.
            ``("constraints", 0, "expr") -> 14`` (empty when not known).
    """

    file: str | None = None
    lines: Mapping[tuple[str | int, ...], int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int] = ()) -> int | None:
        """The line of ``path``, or of its nearest enclosing key that has one."""
        key = tuple(path)
        while key not in self.lines:
            if not key:
                return None
            key = key[:-1]
        return self.lines[key]


@runtime_checkable
class TemplateEngine(Protocol):
    """Compiles a template definition into a strategy (entry points in ``bidgw.templates``).

    ``compile`` runs when the strategies file loads. It validates the
    definition completely (names, types, expressions) and raises a
    :class:`~gateway.core.errors.ConfigError` naming ``source.file``, the line
    (``source.line(path)``) and the template; what it returns is checked like
    any plugin's strategy.
    """

    def compile(self, name: str, definition: Mapping[str, Any], source: TemplateSource) -> Any:
        """The strategy (an object satisfying :class:`Strategy`) the template defines."""
        ...


class StrategySettings(FrozenModel):
    """One entry of the strategies file.

    Attributes:
        enabled: whether payloads for this strategy are accepted (default true).
        plugin: where to load it from: an entry-point name in the
            ``bidgw.strategies`` group or a ``module:Class`` path. Defaults to
            the entry point named like the entry's key. For a ``template``
            entry: the template engine, an entry point in ``bidgw.templates``
            or a ``module:Class`` path (default ``linear``).
        config: the strategy's own config, validated by its ``config_model``.
        template: a strategy without code (docs/templates.md): its definition,
            inline, or the path of a YAML file holding it (relative to the
            strategies file). None for a plugin.
    """

    enabled: bool = True
    plugin: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    template: dict[str, Any] | str | None = None


class StrategiesFile(FrozenModel):
    """The strategies YAML file: ``strategies: {name: StrategySettings}``.

    Built-in strategies not named in the file are enabled with their defaults.
    """

    strategies: dict[str, StrategySettings] = Field(default_factory=dict)


class BidderPayload(FrozenModel):
    """The payload envelope, as in a payload YAML file or decoded from FIX.

    Attributes:
        strategy: the bidder type / strategy name.
        lot_size: optional lot size for every position that names none.
        id: optional bundle id (the FIX ListID); ``bidgw check`` invents one.
        bidder_data: the strategy's own payload, validated by its model.
    """

    strategy: str
    lot_size: PositiveInt | None = None
    id: str | None = None
    bidder_data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoadedStrategy:
    """A loaded plugin instance with its validated config."""

    plugin: Strategy
    config: StrategyConfig
    source: str

    @property
    def name(self) -> str:
        return self.plugin.name

    def parse(self, bidder_data: Mapping[str, Any]) -> BaseModel:
        """Validate ``bidder_data`` against the plugin's payload model."""
        try:
            return self.plugin.payload_model.model_validate(dict(bidder_data))
        except ValidationError as exc:
            raise PayloadError(
                f"invalid {self.name} payload",
                issues=field_issues(exc, prefix="bidder_data", model=self.plugin.payload_model),
                strategy=self.name,
            ) from None

    def build(self, bidder_data: Mapping[str, Any], context: BuildContext) -> OrderBundle:
        """Validate the payload and compile it; plugin bugs become PluginError."""
        payload = self.parse(bidder_data)
        try:
            bundle = self.plugin.build(payload, self.config, context)
        except GatewayError:
            raise
        except Exception as exc:
            raise PluginError(
                f"build failed: {type(exc).__name__}: {exc}", plugin=self.name
            ) from exc
        if not isinstance(bundle, OrderBundle):
            raise PluginError(
                f"build returned {type(bundle).__name__}, not an OrderBundle", plugin=self.name
            )
        if bundle.bundle_id != context.bundle_id:
            raise PluginError(
                f"build returned bundle id {bundle.bundle_id!r}, expected "
                f"{context.bundle_id!r} from the context",
                plugin=self.name,
            )
        # Audit metadata travels whatever the plugin did with it; the gateway's keys win.
        merged = {**bundle.metadata, **context.metadata, "strategy": self.name}
        if merged != dict(bundle.metadata):
            bundle = dataclasses.replace(bundle, metadata=merged)
        return bundle

    def describe_fill(
        self, bidder_data: Mapping[str, Any], bundle: OrderBundle, fills: Sequence[int]
    ) -> FillCheck | None:
        """The strategy's own account of a fill of ``bundle``, or None when it gives none.

        ``bundle`` is the one this strategy built from ``bidder_data``; ``fills``
        holds one quantity per leg, in leg order. Plugin bugs become PluginError.

        Raises:
            ValueError: ``fills`` does not have one quantity per leg.
        """
        if not isinstance(self.plugin, FillDescriber):
            return None
        if len(fills) != len(bundle.legs):
            raise ValueError(f"{len(fills)} fill quantities for {len(bundle.legs)} legs")
        payload = self.parse(bidder_data)
        try:
            check = self.plugin.describe_fill(payload, bundle, tuple(fills))
        except GatewayError:
            raise
        except Exception as exc:
            raise PluginError(
                f"describe_fill failed: {type(exc).__name__}: {exc}", plugin=self.name
            ) from exc
        if not isinstance(check, FillCheck):
            raise PluginError(
                f"describe_fill returned {type(check).__name__}, not a FillCheck", plugin=self.name
            )
        return check


def _entry_point(
    key: str, target: str, group: str = ENTRY_POINT_GROUP
) -> importlib.metadata.EntryPoint:
    if _OBJECT_PATH.match(target):
        return importlib.metadata.EntryPoint(name=key, value=target, group=group)
    for ep in importlib.metadata.entry_points(group=group):
        if ep.name == target:
            return ep
    raise PluginError(
        f"no entry point {target!r} in group {group!r} and not a 'module:Class' path",
        plugin=key,
    )


def _instantiate(key: str, ep: importlib.metadata.EntryPoint) -> Any:
    try:
        obj = ep.load()
    except Exception as exc:  # import errors of third-party code take any form
        raise PluginError(
            f"cannot load {ep.value!r}: {type(exc).__name__}: {exc}", plugin=key
        ) from exc
    try:
        return obj() if isinstance(obj, type) else obj
    except Exception as exc:
        raise PluginError(f"cannot instantiate {ep.value!r}: {exc}", plugin=key) from exc


@dataclass(frozen=True, slots=True)
class _Origin:
    """The strategies file the settings came from: relative template paths resolve
    against ``base``; ``lines`` holds the line of each key path in ``file``."""

    file: str | None = None
    base: Path | None = None
    lines: Mapping[tuple[str | int, ...], int] = field(default_factory=dict)


def _yaml_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The 1-based line of every key path of a YAML document (each mapping key's line,
    each sequence item's first line). Aliased nodes are walked once."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str | int, ...], int] = {}
    if root is None:
        return lines
    lines[()] = root.start_mark.line + 1
    seen: set[int] = set()
    stack: list[tuple[tuple[str | int, ...], yaml.Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child: tuple[str | int, ...] = (*path, str(key_node.value))
                    lines.setdefault(child, key_node.start_mark.line + 1)
                    stack.append((child, value_node))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                lines.setdefault(child, item.start_mark.line + 1)
                stack.append((child, item))
    return lines


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", source=str(path)) from None


def _template_definition(
    key: str, template: dict[str, Any] | str, origin: _Origin
) -> tuple[dict[str, Any], TemplateSource]:
    """The definition and where it was written: inline in the strategies file, or a file."""
    if isinstance(template, dict):
        prefix = ("strategies", key, "template")
        lines = {
            path[len(prefix) :]: line
            for path, line in origin.lines.items()
            if path[: len(prefix)] == prefix
        }
        return template, TemplateSource(origin.file, lines)
    path = Path(template)
    if not path.is_absolute() and origin.base is not None:
        path = origin.base / path
    text = _read_text(path)
    raw = loads_yaml(text, source=str(path))
    if not isinstance(raw, dict):
        raise ConfigError(
            f"template {key!r}: the file must hold a mapping (parameters, constraints, ...)",
            source=str(path),
        )
    return raw, TemplateSource(str(path), _yaml_lines(text))


def _compile_template(key: str, settings: StrategySettings, origin: _Origin) -> LoadedStrategy:
    assert settings.template is not None
    definition, source = _template_definition(key, settings.template, origin)
    ep = _entry_point(key, settings.plugin or DEFAULT_TEMPLATE_ENGINE, TEMPLATE_GROUP)
    engine = _instantiate(key, ep)
    if not callable(getattr(engine, "compile", None)):
        raise PluginError(f"{ep.value!r} is not a template engine: no compile()", plugin=key)
    try:
        instance = engine.compile(key, definition, source)
    except GatewayError:
        raise
    except Exception as exc:  # a third-party engine fails in any way
        raise PluginError(
            f"template engine {ep.value!r} failed: {type(exc).__name__}: {exc}", plugin=key
        ) from exc
    where = source.file or "inline"
    line = source.line()
    found = f"template, {where}" + (f":{line}" if line else "")
    return _checked(key, instance, found, settings, origin.base)


def _load(key: str, settings: StrategySettings, origin: _Origin | None = None) -> LoadedStrategy:
    if settings.template is not None:
        return _compile_template(key, settings, origin or _Origin())
    ep = _entry_point(key, settings.plugin or key)
    return _checked(key, _instantiate(key, ep), ep.value, settings, (origin or _Origin()).base)


def _checked(
    key: str, instance: Any, value: str, settings: StrategySettings, config_dir: Path | None
) -> LoadedStrategy:
    """A loaded plugin (or compiled template) once it has proven to be a strategy;
    ``value`` says where it came from (``module:Class``); a :data:`ConfigPath` in its
    config resolves against ``config_dir`` (the strategies file's folder)."""
    missing = [
        attr
        for attr in ("name", "payload_model", "config_model", "build")
        if not hasattr(instance, attr)
    ]
    if missing:
        raise PluginError(f"{value!r} is not a strategy: missing {', '.join(missing)}", plugin=key)
    if hasattr(instance, "describe_fill") and not callable(instance.describe_fill):
        raise PluginError(f"describe_fill of {value!r} is not a method", plugin=key)
    for attr in ("payload_model", "config_model"):
        model = getattr(instance, attr)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(f"{attr} of {value!r} is not a pydantic model", plugin=key)
    if instance.name != key:
        raise PluginError(
            f"{value!r} declares name {instance.name!r}; the strategies file "
            f"registers it as {key!r}",
            plugin=key,
        )
    try:
        context = {"config_dir": config_dir} if config_dir is not None else None
        config = instance.config_model.model_validate(settings.config, context=context)
    except ValidationError as exc:
        issues = field_issues(exc, prefix=f"strategies.{key}.config", model=instance.config_model)
        raise PluginError("invalid config: " + "; ".join(map(str, issues)), plugin=key) from None
    return LoadedStrategy(plugin=instance, config=config, source=value)


class StrategyRegistry:
    """The enabled strategies, loaded once at start-up."""

    def __init__(
        self, strategies: Mapping[str, LoadedStrategy], disabled: frozenset[str] = frozenset()
    ) -> None:
        self._strategies = dict(strategies)
        self._disabled = disabled

    @classmethod
    def from_settings(
        cls, settings: StrategiesFile | None = None, *, base_dir: Path | None = None
    ) -> StrategyRegistry:
        """Load built-ins plus whatever the strategies file adds or changes.

        A template given by path resolves against ``base_dir`` (default: the
        working directory); :meth:`from_file` uses the file's folder.
        """
        return cls._load_all(settings or StrategiesFile(), _Origin(base=base_dir))

    @classmethod
    def _load_all(cls, settings: StrategiesFile, origin: _Origin) -> StrategyRegistry:
        entries: dict[str, StrategySettings] = {
            ep.name: StrategySettings()
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        }
        entries.update(settings.strategies)
        loaded = {key: _load(key, entry, origin) for key, entry in entries.items() if entry.enabled}
        disabled = frozenset(key for key, entry in entries.items() if not entry.enabled)
        return cls(loaded, disabled)

    @classmethod
    def from_file(cls, path: Path) -> StrategyRegistry:
        text = _read_text(path)
        raw = loads_yaml(text, source=str(path))
        try:
            settings = StrategiesFile.model_validate(raw or {})
        except ValidationError as exc:
            raise ConfigError(
                "invalid strategies file",
                source=str(path),
                issues=field_issues(exc, model=StrategiesFile),
            ) from None
        templates = any(entry.template is not None for entry in settings.strategies.values())
        origin = _Origin(
            file=str(path), base=path.parent, lines=_yaml_lines(text) if templates else {}
        )
        return cls._load_all(settings, origin)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._strategies))

    def get(self, name: str) -> LoadedStrategy:
        """The strategy for a bidder type, or a PayloadError saying why not."""
        try:
            return self._strategies[name]
        except KeyError:
            if name in self._disabled:
                reason = f"strategy {name!r} is disabled in this gateway's configuration"
            else:
                known = ", ".join(self.names) or "none"
                reason = f"unknown strategy {name!r} (available: {known})"
                raise UnknownStrategyError(
                    reason, issues=[FieldIssue("strategy", reason)], strategy=name
                ) from None
            raise PayloadError(
                reason, issues=[FieldIssue("strategy", reason)], strategy=name
            ) from None

    def build(
        self,
        payload: BidderPayload,
        *,
        bundle_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> OrderBundle:
        """Envelope → bundle: choose the strategy, validate, compile."""
        strategy = self.get(payload.strategy)
        context = BuildContext(
            bundle_id=bundle_id or payload.id or "bundle",
            lot_size=payload.lot_size,
            metadata={"strategy": strategy.name, **(metadata or {})},
        )
        return strategy.build(payload.bidder_data, context)


@runtime_checkable
class CommandPlugin(Protocol):
    """A ``bidgw`` subcommand contributed by a plugin package.

    Registered as an entry point in the ``bidgw.commands`` group; the entry
    point's name is the subcommand (``hedge``). Its object (a class,
    instantiated with no arguments, or an instance) provides:

    * ``help`` — one line for ``bidgw --help``;
    * ``configure(parser)`` — add the command's arguments and sub-commands to
      the :mod:`argparse` parser the CLI made for it. Every leaf sets its
      handler with ``parser.set_defaults(handler=fn)``, where
      ``fn(args, out) -> int`` writes its output to ``out``, returns the exit
      code and raises :class:`~gateway.core.errors.GatewayError` for anything
      the user must fix (the CLI prints the message and exits 2).

    ``configure`` runs every time ``bidgw`` starts, so it must be cheap: import
    heavy dependencies inside the handler.
    """

    help: str

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's arguments, sub-commands and handler(s)."""
        ...


@dataclass(frozen=True, slots=True)
class LoadedCommand:
    """One ``bidgw.commands`` entry: the loaded plugin, or why it could not be loaded.

    Attributes:
        name: the subcommand.
        source: the entry point's ``module:attr`` value(s).
        plugin: the plugin instance; None when loading failed.
        error: what went wrong, naming the plugin; None when loaded.
    """

    name: str
    source: str
    plugin: CommandPlugin | None = None
    error: GatewayError | None = None


_COMMAND_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def load_commands(
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> list[LoadedCommand]:
    """Every command plugin (default: the installed ``bidgw.commands`` group), by name.

    A plugin that cannot be loaded comes back with its ``error`` instead of
    raising, so one broken plugin does not take the whole command line down:
    the CLI reports the error when that command is used.
    """
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=COMMAND_GROUP)
    by_name: dict[str, dict[str, importlib.metadata.EntryPoint]] = {}
    for ep in entry_points:
        by_name.setdefault(ep.name, {})[ep.value] = ep
    loaded: list[LoadedCommand] = []
    for name in sorted(by_name):
        candidates = by_name[name]
        source = ", ".join(sorted(candidates))
        if len(candidates) > 1:
            error = GatewayError(
                f"command plugin {name!r}: registered more than once ({source}); "
                "uninstall one of the packages"
            )
            loaded.append(LoadedCommand(name, source, error=error))
            continue
        (ep,) = candidates.values()
        loaded.append(_load_command(ep))
    return loaded


def _load_command(ep: importlib.metadata.EntryPoint) -> LoadedCommand:
    def failed(reason: str) -> LoadedCommand:
        error = GatewayError(f"command plugin {ep.name!r} ({ep.value}): {reason}")
        return LoadedCommand(ep.name, ep.value, error=error)

    if not _COMMAND_NAME.match(ep.name):
        return failed("a command name is lower-case letters, digits, '-' and '_'")
    try:
        obj = ep.load()
    except Exception as exc:  # import errors of third-party code take any form
        return failed(f"cannot load: {type(exc).__name__}: {exc}")
    try:
        instance = obj() if isinstance(obj, type) else obj
    except Exception as exc:
        return failed(f"cannot instantiate: {type(exc).__name__}: {exc}")
    if not isinstance(getattr(instance, "help", None), str) or not callable(
        getattr(instance, "configure", None)
    ):
        return failed("not a command: it needs a 'help' string and a 'configure(parser)' method")
    return LoadedCommand(ep.name, ep.value, plugin=instance)


def parse_envelope(raw: Any, *, source: str | None = None) -> BidderPayload:
    """Validate a decoded payload document into a :class:`BidderPayload`."""
    if not isinstance(raw, Mapping):
        raise PayloadError(
            "a payload must be a mapping with 'strategy' and 'bidder_data'", source=source
        )
    try:
        return BidderPayload.model_validate(dict(raw))
    except ValidationError as exc:
        raise PayloadError(
            "invalid payload", issues=field_issues(exc, model=BidderPayload), source=source
        ) from None
