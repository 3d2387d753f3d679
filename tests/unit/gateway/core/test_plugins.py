"""Plugin loading: built-ins by entry point, third parties by module:Class."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from gateway.core.errors import PayloadError, PluginError
from gateway.core.plugins import (
    COMMAND_GROUP,
    FillCheck,
    StrategiesFile,
    StrategyRegistry,
    load_commands,
    parse_envelope,
)
from gateway.solver.presolve import PreSolver

THIRD_PARTY = '''
from typing import ClassVar
from decimal import Decimal
from pydantic import BaseModel, ConfigDict
from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.plugins import StrategyConfig


class PairsPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    long: str
    short: str
    qty: int
    ratio: int


class PairsConfig(StrategyConfig):
    price: str = "1"


class Pairs:
    """Buy `long`, sell `short`, exactly `ratio` short lots per long lot."""

    name: ClassVar[str] = "pairs"
    payload_model = PairsPayload
    config_model = PairsConfig

    def build(self, payload, config, context):
        price = Decimal(config.price)
        legs = (Leg(symbol=payload.long, side=Side.BUY, limit_price=price, max_qty=payload.qty),
                Leg(symbol=payload.short, side=Side.SELL, limit_price=price,
                    max_qty=payload.qty))
        ratio = Constraint(name="pair_ratio", coefficients=(Decimal(payload.ratio), Decimal(-1)),
                           sense=Sense.EQ)
        return OrderBundle(bundle_id=context.bundle_id, legs=legs, constraints=(ratio,))


class Broken:
    name: ClassVar[str] = "broken"
    payload_model = PairsPayload
    config_model = PairsConfig

    def build(self, payload, config, context):
        raise ZeroDivisionError("oops")


class NotAStrategy:
    pass


class PairsDescribed(Pairs):
    name: ClassVar[str] = "described"

    def describe_fill(self, payload, bundle, fills):
        from fractions import Fraction
        from gateway.core.plugins import FillCheck

        long, short = fills
        return FillCheck(
            measure="short per long",
            achieved=Fraction(short, long) if long else None,
            bound=f"exactly {payload.ratio}",
            within=short == payload.ratio * long,
        )


class PairsDescribeReturnsText(Pairs):
    name: ClassVar[str] = "texty"

    def describe_fill(self, payload, bundle, fills):
        return "fine"


class PairsDescribeFails(Pairs):
    name: ClassVar[str] = "failing"

    def describe_fill(self, payload, bundle, fills):
        raise KeyError("oops")


class PairsDescribeNotCallable(Pairs):
    name: ClassVar[str] = "flag"
    describe_fill = True


class Greet:
    help = "say hello"

    def configure(self, parser):
        parser.add_argument("who")
        parser.set_defaults(handler=lambda args, out: out.write(f"hello {args.who}") and 0)


class Unhelpful:
    def configure(self, parser):
        pass


class NoInit:
    help = "cannot be made"

    def __init__(self, required):
        pass

    def configure(self, parser):
        pass
'''


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"desk_plugins_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(THIRD_PARTY))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def _registry(tmp_path: Path, text: str) -> StrategyRegistry:
    path = tmp_path / "strategies.yaml"
    path.write_text(textwrap.dedent(text))
    return StrategyRegistry.from_file(path)


def test_builtins_are_loaded_by_entry_point():
    registry = StrategyRegistry.from_settings()
    assert {"single_factor_hedged", "beta_neutral"} <= set(registry.names)
    assert registry.get("beta_neutral").source == "strategies.beta_neutral:BetaNeutral"


def test_third_party_plugin_named_in_yaml_is_loaded_and_used(tmp_path, plugin_module):
    registry = _registry(
        tmp_path,
        f"""
        strategies:
          pairs:
            plugin: "{plugin_module}:Pairs"
            config: {{price: "12.5", default_lot_size: 100}}
        """,
    )
    assert "pairs" in registry.names
    payload = parse_envelope(
        {
            "strategy": "pairs",
            "bidder_data": {"long": "AAAA", "short": "BBBB", "qty": 1000, "ratio": 2},
        }
    )
    bundle = registry.build(payload, bundle_id="L1")
    assert bundle.bundle_id == "L1"
    assert bundle.metadata["strategy"] == "pairs"
    verdict = PreSolver().check(bundle)
    assert verdict.feasible
    assert verdict.max_fill == (500, 1000)


def test_disabled_strategy_is_refused_with_reason(tmp_path):
    registry = _registry(tmp_path, "strategies:\n  beta_neutral: {enabled: false}\n")
    with pytest.raises(PayloadError, match="disabled"):
        registry.get("beta_neutral")
    with pytest.raises(PayloadError, match="unknown strategy 'nope'"):
        registry.get("nope")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (
            'plugin: "no_such_module_xyz:Thing"',
            "cannot load 'no_such_module_xyz:Thing': ModuleNotFoundError",
        ),
        ('plugin: "{mod}:Missing"', "cannot load"),
        ('plugin: "{mod}:NotAStrategy"', "is not a strategy: missing name, payload_model"),
        ('plugin: "not-an-entry-point"', "no entry point 'not-an-entry-point'"),
        ('plugin: "{mod}:Pairs"\n    config: {{colour: red}}', "invalid config"),
        ('plugin: "{mod}:Broken"', "declares name 'broken'"),
    ],
)
def test_broken_plugins_fail_with_a_clear_error(tmp_path, plugin_module, entry, words):
    text = "strategies:\n  pairs:\n    " + entry.format(mod=plugin_module) + "\n"
    with pytest.raises(PluginError) as info:
        _registry(tmp_path, text)
    assert "strategy plugin 'pairs'" in str(info.value)
    assert words in str(info.value)


def test_plugin_exception_during_build_becomes_plugin_error(plugin_module):
    settings = StrategiesFile.model_validate(
        {"strategies": {"broken": {"plugin": f"{plugin_module}:Broken"}}}
    )
    registry = StrategyRegistry.from_settings(settings)
    payload = parse_envelope(
        {"strategy": "broken", "bidder_data": {"long": "A", "short": "B", "qty": 100, "ratio": 1}}
    )
    with pytest.raises(PluginError, match="build failed: ZeroDivisionError: oops"):
        registry.build(payload)


def test_unknown_key_in_strategies_file_names_the_path(tmp_path):
    from gateway.core.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _registry(tmp_path, "strategies:\n  beta_neutral: {enabeld: false}\n")
    assert "strategies.beta_neutral.enabeld: unknown field (did you mean 'enabled'?)" in str(
        info.value
    )
    assert "strategies.yaml" in str(info.value)


# --- describe_fill: optional, wrapped like build ---------------------------------------


def _pairs_registry(plugin_module: str, **classes: str) -> StrategyRegistry:
    settings = StrategiesFile.model_validate(
        {
            "strategies": {
                name: {"plugin": f"{plugin_module}:{cls}", "config": {"price": "10"}}
                for name, cls in classes.items()
            }
        }
    )
    return StrategyRegistry.from_settings(settings)


PAIRS = {"long": "AAAA", "short": "BBBB", "qty": 1000, "ratio": 2}


def _describe(registry: StrategyRegistry, name: str, fills):
    bundle = registry.build(parse_envelope({"strategy": name, "bidder_data": PAIRS}))
    return registry.get(name).describe_fill(PAIRS, bundle, fills)


def test_describe_fill_is_optional(plugin_module):
    registry = _pairs_registry(plugin_module, pairs="Pairs", described="PairsDescribed")
    assert _describe(registry, "pairs", (300, 600)) is None
    check = _describe(registry, "described", (300, 600))
    assert check == FillCheck(measure="short per long", achieved=2, bound="exactly 2", within=True)
    assert str(check) == "short per long +2.0000, exactly 2"
    assert not _describe(registry, "described", (300, 500)).within


@pytest.mark.parametrize(
    ("name", "cls", "words"),
    [
        ("texty", "PairsDescribeReturnsText", "describe_fill returned str, not a FillCheck"),
        ("failing", "PairsDescribeFails", "describe_fill failed: KeyError: 'oops'"),
    ],
)
def test_describe_fill_bugs_become_plugin_errors(plugin_module, name, cls, words):
    registry = _pairs_registry(plugin_module, **{name: cls})
    with pytest.raises(PluginError) as info:
        _describe(registry, name, (300, 600))
    assert f"strategy plugin {name!r}" in str(info.value)
    assert words in str(info.value)


def test_describe_fill_needs_one_quantity_per_leg(plugin_module):
    registry = _pairs_registry(plugin_module, described="PairsDescribed")
    with pytest.raises(ValueError, match="1 fill quantities for 2 legs"):
        _describe(registry, "described", (300,))


def test_describe_fill_that_is_not_a_method_is_refused_at_load(plugin_module):
    with pytest.raises(PluginError, match=r"describe_fill of .* is not a method"):
        _pairs_registry(plugin_module, flag="PairsDescribeNotCallable")


# --- command plugins: the bidgw.commands group -----------------------------------------


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=COMMAND_GROUP)


def test_builtin_hedge_command_is_an_entry_point():
    (hedge,) = [c for c in load_commands() if c.name == "hedge"]
    assert hedge.source == "strategies.commands:HedgeCommand"
    assert hedge.error is None
    assert hedge.plugin is not None
    assert "hedging" in hedge.plugin.help


def test_command_plugins_load_or_carry_a_clear_error(plugin_module):
    commands = load_commands(
        [
            _ep("greet", f"{plugin_module}:Greet"),
            _ep("missing", "no_such_module_xyz:Thing"),
            _ep("unhelpful", f"{plugin_module}:Unhelpful"),
            _ep("noinit", f"{plugin_module}:NoInit"),
            _ep("Bad Name", f"{plugin_module}:Greet"),
            _ep("twice", f"{plugin_module}:Greet"),
            _ep("twice", f"{plugin_module}:Unhelpful"),
            _ep("same", f"{plugin_module}:Greet"),
            _ep("same", f"{plugin_module}:Greet"),  # one package seen twice: one command
        ]
    )
    by_name = {c.name: c for c in commands}
    assert sorted(by_name) == sorted(c.name for c in commands)  # one entry per name
    assert by_name["greet"].error is None
    assert by_name["greet"].plugin.help == "say hello"
    assert by_name["same"].error is None
    errors = {name: str(c.error) for name, c in by_name.items() if c.error is not None}
    assert errors.keys() == {"missing", "unhelpful", "noinit", "Bad Name", "twice"}
    assert errors["missing"] == (
        "command plugin 'missing' (no_such_module_xyz:Thing): cannot load: "
        "ModuleNotFoundError: No module named 'no_such_module_xyz'"
    )
    assert "not a command: it needs a 'help' string" in errors["unhelpful"]
    assert "cannot instantiate: TypeError" in errors["noinit"]
    assert "a command name is lower-case" in errors["Bad Name"]
    assert "registered more than once" in errors["twice"]
    assert all(c.plugin is None for c in by_name.values() if c.error is not None)


def test_a_config_path_resolves_against_the_strategies_file_that_sets_it(tmp_path, monkeypatch):
    """Like every path in a config file; only settings without a file keep the working
    directory (the gateway may run from anywhere)."""
    (tmp_path / "conf").mkdir()
    monkeypatch.chdir(tmp_path)
    text = "strategies:\n  mean_reversion_hedge:\n    config: {data_dir: %s}\n"
    registry = _registry(tmp_path / "conf", text % "samples")
    assert registry.get("mean_reversion_hedge").config.data_dir == tmp_path / "conf" / "samples"
    absolute = _registry(tmp_path / "conf", text % tmp_path)
    assert absolute.get("mean_reversion_hedge").config.data_dir == tmp_path
    settings = StrategiesFile.model_validate(
        {"strategies": {"mean_reversion_hedge": {"config": {"data_dir": "samples"}}}}
    )
    loose = StrategyRegistry.from_settings(settings)
    assert loose.get("mean_reversion_hedge").config.data_dir == Path("samples")
