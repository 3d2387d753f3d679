"""Plugin loading: built-ins by entry point, third parties by module:Class."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gateway.core.errors import PayloadError, PluginError
from gateway.core.plugins import StrategiesFile, StrategyRegistry, parse_envelope
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
    assert "strategies.beta_neutral.enabeld: unknown field" in str(info.value)
    assert "strategies.yaml" in str(info.value)
