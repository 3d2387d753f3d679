"""Templates (docs/templates.md): the YAML single_factor_hedged builds exactly the Python
plugin's bundles; a template is checked when its file loads and every error names the
file, the line and the template; the bundles of the new constraint shapes agree with
brute force."""

from __future__ import annotations

import random
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gateway.core.bundle import OrderBundle, Sense
from gateway.core.errors import ConfigError, PayloadError
from gateway.core.plugins import StrategyRegistry, parse_envelope
from gateway.solver.presolve import PreSolver
from strategies.templates import TemplateError
from tests.conftest import ROOT, envelope, seed_hedge
from tests.unit.gateway.solver.test_presolve import assert_matches_brute_force, hedge_payloads

TEMPLATE_FILE = ROOT / "config" / "templates" / "single_factor_hedged.yaml"


@pytest.fixture(scope="module")
def shipped() -> StrategyRegistry:
    """The bundled config: built-ins plus the hedge_template template."""
    return StrategyRegistry.from_file(ROOT / "config" / "strategies.yaml")


def _registry(tmp_path: Path, definition: str, *, name: str = "desk_t") -> StrategyRegistry:
    """A strategies file whose entry ``name`` is the template in ``t.yaml``."""
    (tmp_path / "t.yaml").write_text(textwrap.dedent(definition))
    (tmp_path / "strategies.yaml").write_text(f"strategies:\n  {name}:\n    template: t.yaml\n")
    return StrategyRegistry.from_file(tmp_path / "strategies.yaml")


def _build(registry: StrategyRegistry, strategy: str, data: dict[str, Any], **envelope_keys: Any):
    raw = {"strategy": strategy, "bidder_data": data, **envelope_keys}
    return registry.build(parse_envelope(raw), bundle_id="L-1")


# --- the seed's single_factor_hedged as a template --------------------------------------


def _assert_same_bundle(python: OrderBundle, template: OrderBundle) -> None:
    assert template.bundle_id == python.bundle_id
    assert template.legs == python.legs
    assert [leg.position for leg in template.legs] == [leg.position for leg in python.legs]
    assert template.constraints == python.constraints  # names, rows, senses, descriptions
    assert template.min_total_fill == python.min_total_fill
    assert dict(template.metadata) == {**python.metadata, "strategy": "hedge_template"}


def _both(registry: StrategyRegistry, raw: dict[str, Any]) -> tuple[Any, Any]:
    """Each strategy's bundle for the same payload, or the PayloadError it raised."""
    results = []
    for strategy in ("single_factor_hedged", "hedge_template"):
        try:
            results.append(registry.build(envelope({**raw, "strategy": strategy}), bundle_id="L"))
        except PayloadError as exc:
            results.append(exc)
    return results[0], results[1]


def test_the_seed_sample_compiles_to_the_same_row(shipped):
    python, template = _both(shipped, seed_hedge())
    _assert_same_bundle(python, template)
    (row,) = template.constraints
    assert row.coefficients == (Decimal(-4), Decimal(36), Decimal(9))  # 4a == 36b + 9c
    assert row.description == "abs_weighted == 2 * net (hedging ratio net/abs = 1/2)"


@given(raw=hedge_payloads())
def test_template_and_plugin_build_identical_bundles(shipped, raw):
    python, template = _both(shipped, raw)
    assert isinstance(python, OrderBundle), python
    _assert_same_bundle(python, template)


def _random_hedge(rng: random.Random) -> dict[str, Any]:
    """A hedge_data payload that is valid about half the time."""
    lot = rng.choice([1, 10, 100])
    positions = []
    for i in range(rng.randint(1, 5)):
        coefficient = Decimal(rng.randint(-12, 12)) / rng.choice([1, 2, 4, 10])
        positions.append(
            {
                "symbol": rng.choice(["AAAA", "BBBB", "CCCC", "DDDD"]) if i > 2 else f"S{i}",
                "side": rng.choice(["Buy", "Sell"]),
                "hedge_qty_coeff": str(coefficient),
                "qty": rng.randint(1, 3000),
                "price": str(Decimal(rng.randint(1, 9999)) / 100),
            }
        )
    data: dict[str, Any] = {"positions": positions}
    form = rng.choice(["exact", "exact", "band", "band", "both", "neither", "half"])
    if form in ("exact", "both"):
        data["target_hedge_ratio"] = rng.choice(["-3", "-1", "-0.5", "0.5", "1", "1.5", "2", "4"])
    if form in ("band", "both", "half"):
        low, high = (Decimal(rng.randint(-24, 24)) / 20 for _ in range(2))
        data["hedge_ratio_min"] = str(low)
        if form != "half":
            data["hedge_ratio_max"] = str(high)
    return {"strategy": "single_factor_hedged", "lot_size": lot, "bidder_data": data}


def test_seeded_random_payloads_valid_or_not_get_the_same_answer(shipped):
    rng = random.Random(20261121)
    built = refused = 0
    for _ in range(600):
        raw = _random_hedge(rng)
        python, template = _both(shipped, raw)
        if isinstance(python, PayloadError):
            assert isinstance(template, PayloadError), (raw, python)
            refused += 1
        else:
            assert isinstance(template, OrderBundle), (raw, template)
            _assert_same_bundle(python, template)
            built += 1
    assert built > 50
    assert refused > 200


def test_the_template_reports_rule_failures_as_payload_issues(shipped):
    raw = seed_hedge()
    raw["bidder_data"]["hedge_ratio_min"] = "0"
    _, error = _both(shipped, raw)
    assert isinstance(error, PayloadError)
    assert [str(i) for i in error.issues] == [
        "bidder_data: give either target_hedge_ratio or hedge_ratio_min/hedge_ratio_max, not both",
    ]
    raw = seed_hedge()
    raw["bidder_data"]["positions"][0]["hedge_qty_coeff"] = 0
    _, error = _both(shipped, raw)
    assert "bidder_data.positions[0].hedge_qty_coeff: must not be 0" in str(error)


def test_bidgw_strategies_shows_the_template(shipped):
    loaded = shipped.get("hedge_template")
    assert loaded.source.startswith("template, ")
    assert loaded.source.endswith("single_factor_hedged.yaml:5")
    summary = "\n".join(loaded.plugin.summary())  # type: ignore[attr-defined]
    assert "target_hedge_ratio  (decimal, optional)" in summary
    assert "hedge_qty_coeff  (decimal, non-zero)" in summary
    assert "hedge_ratio: sum(abs(hedge_qty_coeff) * fill) ==" in summary


# --- load-time errors name the file, the line and the template --------------------------

VALID = """\
parameters:
  tol: {type: percentage}
  cap: {type: decimal, optional: true, min: 0}
position_fields:
  w: {type: decimal, default: 1}
constraints:
  - name: neutral
    expr: abs(sum(sign * price * fill)) <= tol * sum(price * fill)
"""

BROKEN = [
    # (what replaces what in VALID, line, where, words)
    (("tol * sum", "tolerance * sum"), 8, "constraints[0].expr", "unknown name 'tolerance'"),
    (("tol * sum", "tol.x * sum"), 8, "constraints[0].expr", "attribute access"),
    (("tol * sum", "__class__ * sum"), 8, "constraints[0].expr", "may not start with '_'"),
    (("<= tol", ">= tol"), 8, "constraints[0].expr", "would need an 'or'"),
    (("<= tol * sum(price * fill)", "<= cap"), 8, "constraints[0].expr", "add them to its 'when'"),
    (("type: percentage", "type: float"), 2, "parameters.tol.type", "'integer'"),
    (("min: 0}", "minimum: 0}"), 3, "parameters.cap.minimum", "unknown key"),
    # A misspelt required key is one problem, named with the key meant.
    (
        ("constraints:", "constraintz:"),
        6,
        "constraintz",
        "unknown key (did you mean 'constraints'?)",
    ),
    (
        ("position_fields:", "position_field:"),
        4,
        "position_field",
        "(did you mean 'position_fields'?)",
    ),
    (("  tol:", "  fill:"), 2, "parameters.fill", "reserved"),
    (("  w:", "  price:"), 5, "position_fields.price", "reserved"),
    (("  cap:", "  json:"), 3, "parameters.json", "clashes with the payload model"),
    (("  w:", "  tol:"), 5, "position_fields.tol", "both a parameter and a position field"),
    (("default: 1", "default: x"), 5, "position_fields.w.default", "not a decimal number"),
    (("default: 1", "optional: true"), 5, "position_fields.w", "cannot be optional"),
    (("optional: true, min: 0", "min: 2, max: 1"), 3, "parameters.cap", "greater than max"),
    (("name: neutral", "name: 2bad"), 7, "constraints[0].name", "constraint name '2bad'"),
    (
        ("constraints:\n", "constraints:\n  - {name: neutral_lower, expr: sum(fill) <= 9}\n"),
        8,
        "constraints[1].name",
        "constraint name 'neutral_lower' is used twice (also by constraints[0]",
    ),
    (
        ("    expr:", "    when: tol\n    expr:"),
        8,
        "constraints[0].when[0]",
        "'tol' in 'when' is not optional",
    ),
    (
        ("    expr:", "    description: 'cap {cap_pct}'\n    expr:"),
        8,
        "constraints[0].description",
        "{cap_pct} in the description is not a parameter",
    ),
]


@pytest.mark.parametrize(("swap", "line", "where", "words"), BROKEN)
def test_template_errors_name_the_file_line_and_template(tmp_path, swap, line, where, words):
    old, new = swap
    assert old in VALID
    with pytest.raises(TemplateError) as info:
        _registry(tmp_path, VALID.replace(old, new, 1))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 't.yaml'}: line {line}, template 'desk_t', {where}: ")
    assert words in message
    assert "more problem" not in message  # each edit makes one mistake
    assert info.value.line == line


def test_the_valid_template_loads(tmp_path):
    registry = _registry(tmp_path, VALID)
    bundle = _build(
        registry,
        "desk_t",
        {
            "tol": 5,
            "positions": [
                {"symbol": "AAAA", "side": "Buy", "qty": 1000, "price": "10"},
                {"symbol": "BBBB", "side": "Sell", "qty": 1000, "price": "20"},
            ],
        },
    )
    upper, lower = bundle.constraints
    assert (upper.name, lower.name) == ("neutral_upper", "neutral_lower")
    # ±(s·p) − 0.05·p:  AAAA 10·(1 − 0.05), BBBB 20·(−1 − 0.05)
    assert upper.coefficients == (Decimal("9.5"), Decimal(-21))
    assert lower.coefficients == (Decimal("-10.5"), Decimal(19))
    assert upper.sense is lower.sense is Sense.LE


def test_an_expression_error_also_gives_the_column(tmp_path):
    with pytest.raises(TemplateError) as info:
        _registry(tmp_path, VALID.replace("tol * sum", "tol * sum(fill * fill) + sum"))
    assert info.value.column == 51  # the second fill
    assert "not linear" in str(info.value)
    assert "(column 51 of the expression)" in str(info.value)


def test_inline_template_errors_point_into_the_strategies_file(tmp_path):
    path = tmp_path / "strategies.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            strategies:
              beta_neutral: {enabled: false}
              capped:
                template:
                  parameters:
                    cap: {type: integer, min: 0}
                  constraints:
                    - name: cap
                      expr: sum(fill) <= cap
                    - name: bad
                      expr: sum(fill) <= eval(1)
            """
        )
    )
    with pytest.raises(TemplateError) as info:
        StrategyRegistry.from_file(path)
    assert str(info.value).startswith(
        f"{path}: line 11, template 'capped', constraints[1].expr: unknown function 'eval'"
    )


def test_a_template_file_that_is_missing_or_not_a_mapping_is_a_config_error(tmp_path):
    (tmp_path / "strategies.yaml").write_text("strategies:\n  t:\n    template: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read file"):
        StrategyRegistry.from_file(tmp_path / "strategies.yaml")
    (tmp_path / "nowhere.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="the file must hold a mapping"):
        StrategyRegistry.from_file(tmp_path / "strategies.yaml")
    (tmp_path / "nowhere.yaml").write_text("constraints: []\nconstraints: []\n")
    with pytest.raises(ConfigError, match="duplicate key 'constraints'"):
        StrategyRegistry.from_file(tmp_path / "strategies.yaml")


def test_a_template_needs_a_constraint(tmp_path):
    with pytest.raises(TemplateError) as info:
        _registry(tmp_path, "parameters: {}\nconstraints: []\n")
    assert str(info.value).endswith(
        "line 2, template 'desk_t', constraints: List should have at least 1 item after "
        "validation, not 0"
    )


# --- payloads of a desk's template -------------------------------------------------------

SECTOR = """\
description: dollar-neutral within tol, at most tech_cap of the money in tech names
parameters:
  tol: {type: percentage, description: largest net as a share of gross}
  tech: {type: symbol_list}
  tech_cap: {type: percentage, default: 50}
  max_total: {type: integer, optional: true, min: 1}
position_fields:
  ref_price: {type: decimal, min: 0.000001}
min_positions: 2
require:
  - rule: any(sign > 0) and any(sign < 0)
    message: a neutral basket buys and sells
constraints:
  - name: neutral
    expr: abs(sum(sign * ref_price * fill)) <= tol * sum(ref_price * fill)
    description: "|net| <= {tol}% of gross"
  - name: tech_cap
    expr: sum(ref_price * fill where symbol in tech) <= tech_cap * sum(ref_price * fill)
  - name: total
    when: max_total
    expr: sum(fill) <= max_total
"""


def _sector(**data: Any) -> dict[str, Any]:
    return {
        "tol": "2.5",
        "tech": "AAAA, CCCC",
        "positions": [
            {"symbol": "AAAA", "side": "Buy", "qty": 1000, "price": "10", "ref_price": "10"},
            {"symbol": "BBBB", "side": "Sell", "qty": 1000, "price": "20", "ref_price": "20"},
            {"symbol": "CCCC", "side": "Buy", "qty": 1000, "price": "5", "ref_price": "5"},
        ],
        **data,
    }


def test_parameters_and_fields_reach_the_rows(tmp_path):
    registry = _registry(tmp_path, SECTOR)
    bundle = _build(registry, "desk_t", _sector(), lot_size=100)
    names = [c.name for c in bundle.constraints]
    assert names == ["neutral_upper", "neutral_lower", "tech_cap"]  # no max_total: no row
    tech = bundle.constraints[2]
    # AAAA, CCCC in tech: p − 0.5·p; BBBB: −0.5·p
    assert tech.coefficients == (Decimal(5), Decimal(-10), Decimal("2.5"))
    assert bundle.constraints[0].description.startswith("|net| <= 2.5% of gross [abs(")
    # The symbol list as a YAML list works the same; an optional parameter adds its row.
    listed = _build(registry, "desk_t", _sector(tech=["AAAA", "CCCC"], max_total=5000))
    assert listed.constraints[:3] == bundle.constraints
    assert listed.constraints[3].coefficients == (Decimal(1),) * 3
    assert listed.constraints[3].rhs == 5000


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"tol": "101"}, "bidder_data.tol: must be at most 100"),
        ({"tech": ""}, "bidder_data.tech: the symbol list is empty"),
        ({"tech": "AAAA AAAA"}, "appears twice"),
        ({"tech": "AAAA, $$"}, "symbol must be"),
        ({"max_total": 0}, "bidder_data.max_total: must be at least 1"),
        ({"max_total": "10"}, "bidder_data.max_total: Input should be a valid integer"),
        ({"surprise": 1}, "bidder_data.surprise: unknown field"),
        ({"positions": []}, "bidder_data.positions: List should have at least 2 items"),
    ],
)
def test_payloads_are_validated_like_a_plugins(tmp_path, change, words):
    registry = _registry(tmp_path, SECTOR)
    with pytest.raises(PayloadError) as info:
        _build(registry, "desk_t", _sector(**change))
    assert words in str(info.value)


def test_rules_and_build_time_errors_are_payload_errors(tmp_path):
    registry = _registry(tmp_path, SECTOR)
    one_sided = _sector()
    one_sided["positions"][1]["side"] = "Buy"
    with pytest.raises(PayloadError) as info:
        _build(registry, "desk_t", one_sided)
    assert [str(i) for i in info.value.issues] == ["bidder_data: a neutral basket buys and sells"]
    floor = SECTOR.replace("expr: sum(fill) <= max_total", "expr: sum(fill) >= max_total")
    registry = _registry(tmp_path, floor)
    with pytest.raises(PayloadError, match="constraint total excludes the empty fill"):
        _build(registry, "desk_t", _sector(max_total=500))
    divide = VALID.replace("tol * sum(price * fill)", "sum(price * fill) / cap") + (
        "    when: cap\n"
    )
    registry = _registry(tmp_path, divide)
    data = {"tol": 1, "cap": 0, "positions": [_sector()["positions"][0]]}
    data["positions"][0].pop("ref_price")
    with pytest.raises(PayloadError, match="constraint neutral: division by zero"):
        _build(registry, "desk_t", data)


def test_a_row_without_a_finite_decimal_expansion_is_scaled_to_integers(tmp_path):
    thirds = VALID.replace(
        "abs(sum(sign * price * fill)) <= tol * sum(price * fill)",
        "sum(w * fill) <= sum(fill) / 3",
    )
    registry = _registry(tmp_path, thirds)
    positions = [
        {"symbol": "AAAA", "side": "Buy", "qty": 900, "price": "10", "w": "0.5"},
        {"symbol": "BBBB", "side": "Buy", "qty": 900, "price": "10", "w": "-1"},
    ]
    (row,) = _build(registry, "desk_t", {"tol": 1, "positions": positions}).constraints
    # (0.5 − 1/3)·a + (−1 − 1/3)·b <= 0, times 6
    assert row.coefficients == (Decimal(1), Decimal(-8))


def test_template_payloads_travel_over_fix_unchanged(tmp_path, shipped):
    from gateway.fix.client_codec import decode_new_order_list, encode_new_order_list

    registry = _registry(tmp_path, SECTOR)
    raw = {"strategy": "desk_t", "lot_size": 100, "bidder_data": _sector(max_total=3000)}
    message = encode_new_order_list(raw, "L-1", ["a", "b", "c"])
    decoded = decode_new_order_list(message).envelope
    assert registry.build(parse_envelope(decoded), bundle_id="L-1") == registry.build(
        parse_envelope(raw), bundle_id="L-1"
    )
    # The built-ins' per-order fields too: a pairs group, a dollar_neutral ref_price.
    for sample in ("pairs.yaml", "dollar_neutral.yaml", "hedge_template.yaml"):
        from gateway.core.yamlio import load_yaml

        raw = load_yaml(ROOT / "config" / "samples" / sample)
        count = len(raw["bidder_data"]["positions"])
        decoded = decode_new_order_list(
            encode_new_order_list(raw, "L-1", [f"c{i}" for i in range(count)])
        ).envelope
        assert shipped.build(parse_envelope(decoded), bundle_id="L-1") == shipped.build(
            parse_envelope(raw), bundle_id="L-1"
        )


# --- the new shapes against brute force ---------------------------------------------------

SHAPES = """\
parameters:
  tol: {type: percentage}
  tech: {type: symbol_list}
  tech_cap: {type: percentage}
position_fields:
  w: {type: integer, min: -3, max: 3}
constraints:
  - name: neutral
    expr: abs(sum(sign * price * fill)) <= tol * sum(price * fill)
  - name: tech_cap
    expr: sum(price * fill where symbol in tech) <= tech_cap * sum(price * fill)
  - name: balance
    expr: >-
      abs(sum(w * fill)) + abs(sum(sign * fill where symbol not in tech))
      <= sum(lot_size * fill) / 3
"""


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> StrategyRegistry:
    return _registry(tmp_path_factory.mktemp("shapes"), SHAPES, name="shapes")


@st.composite
def shape_payloads(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    positions = []
    for i in range(count):
        lot = draw(st.sampled_from([3, 10, 100]))
        positions.append(
            {
                "symbol": f"S{i}",
                "side": draw(st.sampled_from(["Buy", "Sell"])),
                "qty": lot * draw(st.integers(1, 8)),
                "price": draw(st.sampled_from(["5", "10", "20", "12.5"])),
                "lot_size": lot,
                "w": draw(st.integers(-3, 3)),
            }
        )
    tech = draw(st.sampled_from(["X", "S0", "S1", "S0,S2", "S1 S2"]))
    return {
        "strategy": "shapes",
        "bidder_data": {
            "tol": draw(st.sampled_from(["0", "5", "25", "100"])),
            "tech": tech,
            "tech_cap": draw(st.sampled_from(["0", "50", "100"])),
            "positions": positions,
        },
    }


@given(raw=shape_payloads())
def test_presolver_matches_brute_force_on_template_shapes(shapes, raw):
    bundle = shapes.build(envelope(raw))
    assert len(bundle.constraints) == 2 + 1 + 4  # abs: 2 rows; two abs terms: 4 rows
    verdict = PreSolver().check(bundle)
    event(f"feasible={verdict.feasible} path={verdict.path}")
    assert_matches_brute_force(bundle, verdict)


@given(
    data=st.data(),
    tol=st.sampled_from(["0", "1", "2.5", "10", "100"]),
    sides=st.lists(st.sampled_from(["Buy", "Sell"]), min_size=3, max_size=3),
)
def test_a_dollar_neutral_template_accepts_the_same_fills_as_the_builtin(
    shapes, registry, data, tol, sides
):
    positions = [
        {"symbol": f"S{i}", "side": side, "qty": 3000, "price": price}
        for i, (side, price) in enumerate(zip(sides, ("10.05", "19.95", "4.95"), strict=True))
    ]
    builtin = registry.build(
        envelope(
            {
                "strategy": "dollar_neutral",
                "lot_size": 100,
                "bidder_data": {"tolerance_pct": tol, "positions": positions},
            }
        )
    )
    template = shapes.build(
        envelope(
            {
                "strategy": "shapes",
                "lot_size": 100,
                "bidder_data": {
                    "tol": tol,
                    "tech": "X",
                    "tech_cap": "100",
                    "positions": [{**p, "w": 0} for p in positions],
                },
            }
        )
    )
    neutral = OrderBundle(bundle_id="n", legs=template.legs, constraints=template.constraints[:2])
    fill = [100 * data.draw(st.integers(0, 30)) for _ in range(3)]
    assert (builtin.violations(fill) == []) == (neutral.violations(fill) == [])


def test_the_shipped_template_loads_through_the_gateway_config():
    from gateway.router.config import load_config

    registry = load_config(ROOT / "config" / "gateway.yaml").registry()
    assert {"hedge_template", "pairs", "dollar_neutral"} <= set(registry.names)


# --- the command line -------------------------------------------------------------------


def test_bidgw_strategies_lists_templates_with_their_parameters(capsys):
    from gateway.tools.cli import main

    assert main(["strategies", "--config", str(ROOT / "config" / "gateway.yaml")]) == 0
    out = capsys.readouterr().out
    block = out.split("\nhedge_template  (template, ", 1)[1].split("\nmean_reversion_hedge", 1)[0]
    assert "single_factor_hedged.yaml:5)" in block
    assert "parameters:\n      target_hedge_ratio  (decimal, optional)" in block
    assert "hedge_qty_coeff  (decimal, non-zero)" in block
    assert "constraints:\n      hedge_ratio: sum(abs(hedge_qty_coeff) * fill) ==" in block
    assert (
        "pairs  (strategies.pairs:Pairs)\n    bidder_data: positions, ratio_min, ratio_max" in out
    )
    assert "dollar_neutral  (strategies.dollar_neutral:DollarNeutral)" in out


def test_bidgw_check_runs_a_template_payload_like_the_plugins(capsys):
    import json

    from gateway.tools.cli import main

    samples = ROOT / "config" / "samples"
    config = str(ROOT / "config" / "gateway.yaml")
    documents = []
    for sample in ("hedge_seed.yaml", "hedge_template.yaml"):
        assert main(["check", str(samples / sample), "--json", "--config", config]) == 0
        documents.append(json.loads(capsys.readouterr().out))
    plugin, template = documents
    assert template["strategy"] == "hedge_template"
    assert template["max_fill"] == plugin["max_fill"]
    assert [leg["qty"] for leg in template["max_fill"]] == [1800, 0, 800]
