"""The template expression language: it reads what it should, refuses everything else
with a clear error naming the column, and its rows mean exactly the expression."""

from __future__ import annotations

import sys
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.bundle import Sense
from strategies.expr import (
    BUILTIN_NAMES,
    MAX_DEPTH,
    MAX_LENGTH,
    Env,
    ExprError,
    Kind,
    NameInfo,
    Sign,
    check_constraint,
    check_rule,
    decimal_or_none,
    parse,
    tokenize,
)

NAMES: dict[str, NameInfo] = {
    **BUILTIN_NAMES,
    "tol": NameInfo(Kind.NUMBER, sign=Sign.NONNEG),
    "k": NameInfo(Kind.NUMBER),
    "cap": NameInfo(Kind.NUMBER, sign=Sign.NONNEG, optional=True),
    "tech": NameInfo(Kind.SYMBOLS),
    "w": NameInfo(Kind.NUMBER, per_position=True),
}


def _error(text: str, *, rule: bool = False) -> ExprError:
    with pytest.raises(ExprError) as info:
        (check_rule if rule else check_constraint)(text, NAMES)
    return info.value


# --- the tokenizer and the parser -----------------------------------------------------


def test_tokens_carry_their_column():
    tokens = tokenize("sum(w * fill) <= 2.5")
    assert [(t.kind, t.text, t.column) for t in tokens] == [
        ("name", "sum", 1),
        ("op", "(", 4),
        ("name", "w", 5),
        ("op", "*", 7),
        ("name", "fill", 9),
        ("op", ")", 13),
        ("op", "<=", 15),
        ("number", "2.5", 18),
        ("end", "", 21),
    ]


def test_precedence_and_associativity():
    tree = parse("1 - 2 - 3 * 4 / 2")
    # ((1 - 2) - ((3 * 4) / 2)): left-associative, * and / bind tighter.
    assert tree.op == "-"  # type: ignore[attr-defined]
    assert tree.left.op == "-"  # type: ignore[attr-defined]
    assert tree.right.op == "/"  # type: ignore[attr-defined]


#: Malformed and hostile input: each refused by the tokenizer or the parser with a
#: message naming what is wrong (and the column where there is one).
HOSTILE = [
    ("__import__('os').system('true')", "names may not start with '_'", 1),
    ("sum(fill).__class__ <= 1", "attribute access", 10),
    ("sum(fill) <= price.real", "attribute access", 19),
    ("().__class__.__bases__", "attribute access", 3),
    ("_x <= 1", "names may not start with '_'", 1),
    ("eval('1') <= 1", "strings are not allowed", 6),
    ("exec(1) <= 1", "unknown function 'exec'", 1),
    ("getattr(fill, 1) <= 1", "unknown function 'getattr'", 1),
    ("open(1) <= 1", "unknown function 'open'", 1),
    ("lambda: 0", "':' is not allowed", 7),
    ("[x for x in tech]", "indexing is not allowed", 1),
    ("{1: 2}", "not literals", 1),
    ("sum(fill) <= 1; sum(fill) <= 2", "one expression only", 15),
    ("sum(fill) ** 2 <= 1", "power", 11),
    ("sum(fill) <= 1e308", "malformed number '1e308'", 14),
    ("sum(fill) <= 1_000", "malformed number '1_000'", 14),
    ("sum(fill) <= .5", "leading zero", 14),
    ("sum(fill) <= 0x10", "malformed number '0x10'", 14),
    ("sum(fill) <= " + "9" * 31, "31 significant digits", 14),
    ("sum(fill) <= " + "9" * 45, "numbers have at most 30 digits", 14),
    ("sum(fill) <= 1" + "0" * 20, "out of range", 14),
    ("sum(fill) = 1", "use '=='", 11),
    ("sum(fill) ≤ 1", "expressions are ASCII", 11),
    ("sum(fill) <= １", "expressions are ASCII", 14),
    ("sum(fill) <= 1 <= 2", "chained comparison", 16),
    ("sum(fill) <=", "ends too early", 13),
    ("(sum(fill) <= 1", "expected ')'", 16),
    ("sum(fill)) <= 1", "unexpected ')'", 10),
    ("sum(fill, 2) <= 1", "takes one argument", 9),
    ("abs(fill where w > 0) <= 1", "'where' filters positions in sum/any/all", 10),
    ("sum() <= 1", "needs an argument", 5),
    ("and <= 1", "unexpected keyword 'and'", 1),
    ("", "empty expression", None),
    ("   ", "empty expression", None),
]


@pytest.mark.parametrize(("text", "words", "column"), HOSTILE)
def test_malformed_and_hostile_input_is_refused_clearly(text, words, column):
    error = _error(text)
    assert words in error.reason
    assert error.column == column


def test_deep_nesting_is_refused_before_the_interpreter_recursion_limit():
    depth = 150  # under the length and token limits, far over the depth limit
    for text in (
        "(" * depth + "sum(fill)" + ")" * depth + " <= 1",
        "-" * depth + "sum(fill) <= 1",
        "not " * depth + "any(w > 0)",
        "sum(" * 60 + "fill" + ")" * 60 + " <= 1",
    ):
        assert len(text) <= MAX_LENGTH
        error = _error(text, rule=text.startswith("not"))
        assert f"nested more than {MAX_DEPTH} levels deep" in error.reason
    assert sys.getrecursionlimit() >= 1000  # the parser never got near it


def test_oversized_input_is_refused_unread():
    assert "characters long" in _error("fill + " * 10_000 + "1 <= 2").reason
    assert "more than 400 tokens" in _error("sum(" + "w+" * 210 + "w) <= 1").reason
    assert "at most 64" in _error("a" * 65 + " <= 1").reason


# --- static checks --------------------------------------------------------------------

ILL_TYPED = [
    ("sum(fill) <= foo", "unknown name 'foo'", 14),
    ("sum(fil) <= 1", "did you mean 'fill'?", 5),
    ("sum(qty * fill) <= 1", "'max_qty'", 5),
    ("sum(side * fill) <= 1", "use 'sign'", 5),
    ("sum <= 1", "sum is a function", 1),
    ("fill <= 1", "per-position value: use it inside sum", 1),
    ("price * sum(fill) <= 1", "per-position value", 1),
    ("sum(fill * fill) <= 1", "not linear", 12),
    ("sum(w * fill) * sum(fill) <= 1", "not linear", 17),
    ("sum(1 / fill) <= 1", "cannot divide by something that depends on the fill", 5),
    ("sum(fill) / 0 <= 1", "division by zero", 13),
    ("sum(sum(fill)) <= 1", "cannot be nested", 5),
    ("sum(abs(fill - 1)) <= 1", "fill plus a constant is not linear", 5),
    ("abs(abs(sum(fill)) - sum(w * fill)) <= 1", "abs() inside abs()", 1),
    ("sum(fill) < 1", "'<' cannot be a linear constraint", 1),
    ("sum(fill) <= 1 and sum(fill) >= 0", "one constraint per comparison", 1),
    ("sum(fill) + (sum(fill) <= 1) <= 2", "comparison can only be the whole constraint", 14),
    ("sum(w) <= tol", "does not depend on any fill", 1),
    ("tol <= 1", "does not depend on any fill", 1),
    ("any(w > 0) <= 1", "belongs in a rule", 1),
    ("sum(fill where given(cap)) <= 1", "given() belongs in rules", 16),
    ("sum(fill where symbol in k) <= 1", "'k' is not a symbol-list parameter", 26),
    ("sum(fill where price in tech) <= 1", "tests a position's 'symbol'", 16),
    ("sum(fill where fill > 0) <= 1", "'fill' (the fill quantity) can only be used", 16),
    ("sum(tech) <= 1", "sum() needs a number, not a symbol list", 5),
    ("sum(symbol * fill) <= 1", "needs a number, not a symbol", 5),
    ("sum(fill where w) <= 1", "'where' needs a condition", 16),
    ("abs(sum(fill)) >= tol", "would need an 'or'", 1),
    ("tol <= abs(sum(w * fill))", "would need an 'or'", 8),
    ("-abs(sum(w * fill)) <= 0", "would need an 'or'", 2),
    ("abs(sum(w * fill)) == 0", "not linear", 1),
    ("k * abs(sum(w * fill)) <= sum(fill)", "give the parameters it is multiplied by 'min: 0'", 5),
    (
        "abs(sum(fill)) + abs(sum(w*fill)) + abs(sum(price*fill)) + abs(sum(max_qty*fill)) <= 1",
        "at most 3",
        60,
    ),
]


@pytest.mark.parametrize(("text", "words", "column"), ILL_TYPED)
def test_ill_typed_constraints_are_refused_at_load(text, words, column):
    error = _error(text)
    assert words in error.reason
    assert error.column == column


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("sum(fill) > 0", "'fill' (the fill quantity) can only be used"),
        ("w > 0", "per-position value: use it inside sum/any/all"),
        ("given(tol)", "given() takes the name of an optional parameter"),
        ("given(1)", "given() takes the name of an optional parameter"),
        ("tol + 1", "a rule needs a condition, not a number"),
        ("any(w)", "any() needs a condition"),
        ("any(any(w > 0))", "cannot be nested"),
        ("tol == (k > 1)", "'==' compares numbers, not a condition"),
    ],
)
def test_ill_typed_rules_are_refused_at_load(text, words):
    assert words in _error(text, rule=True).reason


def test_abs_on_the_right_side_of_each_sense_is_accepted():
    for text in (
        "abs(sum(sign * price * fill)) <= tol * sum(price * fill)",
        "tol * sum(price * fill) >= abs(sum(sign * price * fill))",
        "2 * abs(sum(w * fill)) - sum(fill) <= 0",
        "0 >= abs(sum(w * fill)) / 4 - sum(fill)",
        "abs(sum(fill) - 100) <= 50",
        "abs(sum(fill)) + abs(sum(w * fill)) + abs(sum(price * fill)) <= sum(max_qty * fill)",
    ):
        check_constraint(text, NAMES)


def test_rules_record_the_optional_parameters_they_use():
    assert check_rule("cap >= 1 or given(cap)", NAMES).optional_names == {"cap"}
    assert check_rule("given(cap)", NAMES).optional_names == frozenset()
    assert check_constraint("sum(fill) <= cap", NAMES).optional_names == {"cap"}


# --- evaluation: rows mean exactly the expression --------------------------------------


def _env(weights, tol="1/20", symbols=("S0", "S1", "S2"), tech=("S1",)):
    return Env(
        params={"tol": Fraction(tol), "k": Fraction(-2), "cap": None, "tech": frozenset(tech)},
        positions=[
            {
                "w": Fraction(w),
                "price": Fraction(10 + i),
                "max_qty": Fraction(1000),
                "lot_size": Fraction(100),
                "sign": Fraction(1 if i % 2 == 0 else -1),
                "symbol": symbol,
            }
            for i, (w, symbol) in enumerate(zip(weights, symbols, strict=True))
        ],
    )


def _holds(rows, fill) -> bool:
    return all(
        {
            Sense.LE: lambda a, b: a <= b,
            Sense.GE: lambda a, b: a >= b,
            Sense.EQ: lambda a, b: a == b,
        }[row.sense](sum(c * q for c, q in zip(row.coefficients, fill, strict=True)), row.rhs)
        for row in rows
    )


def test_abs_expands_into_upper_and_lower_rows():
    rows = check_constraint("abs(sum(sign * price * fill)) <= tol * sum(price * fill)", NAMES).rows(
        _env([1, 1, 1])
    )
    assert [(r.suffix, r.sense, r.rhs) for r in rows] == [
        ("upper", Sense.LE, 0),
        ("lower", Sense.LE, 0),
    ]
    # price 10, 11, 12; sign +, −, +; tol 1/20:  ±(s·p) − p/20
    assert rows[0].coefficients == (Fraction(19, 2), Fraction(-231, 20), Fraction(57, 5))
    assert rows[1].coefficients == (Fraction(-21, 2), Fraction(209, 20), Fraction(-63, 5))
    assert "taken as +(...)" in rows[0].expansion


@given(
    weights=st.lists(st.integers(-5, 5), min_size=3, max_size=3),
    fill=st.lists(st.integers(0, 9), min_size=3, max_size=3),
    tol=st.sampled_from(["0", "1/20", "1/3", "1"]),
)
def test_rows_hold_exactly_when_the_expression_does(weights, fill, tol):
    env = _env(weights, tol)
    prices = [Fraction(10 + i) for i in range(3)]
    signs = [1, -1, 1]
    net = sum(s * p * q for s, p, q in zip(signs, prices, fill, strict=True))
    gross = sum(p * q for p, q in zip(prices, fill, strict=True))
    weighted = sum(Fraction(w) * q for w, q in zip(weights, fill, strict=True))
    abs_weighted = sum(abs(Fraction(w)) * q for w, q in zip(weights, fill, strict=True))
    in_tech = fill[1]  # only S1 is in tech
    cases = {
        "abs(sum(sign * price * fill)) <= tol * sum(price * fill)": abs(net)
        <= Fraction(tol) * gross,
        "tol * sum(price * fill) >= abs(sum(sign * price * fill))": abs(net)
        <= Fraction(tol) * gross,
        "abs(sum(w * fill)) + abs(sum(sign * fill)) <= sum(fill)": abs(weighted)
        + abs(fill[0] - fill[1] + fill[2])
        <= sum(fill),
        "sum(abs(w) * fill) == 2 * sum(w * fill)": abs_weighted == 2 * weighted,
        "sum(abs(w * fill)) >= tol * sum(fill)": abs_weighted >= Fraction(tol) * sum(fill),
        "sum(fill where symbol in tech) <= tol * sum(fill)": in_tech <= Fraction(tol) * sum(fill),
        "sum(fill where symbol not in tech) >= sum(fill) / 3": fill[0] + fill[2]
        >= Fraction(sum(fill), 3),
        "abs(sum(fill) - 10) <= 5": abs(sum(fill) - 10) <= 5,
        "-(sum(w * fill) - 3) >= -(tol + 3) * sum(fill where sign > 0)": -(weighted - 3)
        >= -(Fraction(tol) + 3) * (fill[0] + fill[2]),
    }
    for text, expected in cases.items():
        rows = check_constraint(text, NAMES).rows(env)
        assert _holds(rows, fill) == expected, text


def test_rules_evaluate_over_positions_and_parameters():
    env = _env([3, -1, 0])
    assert check_rule("any(w > 0) and any(w < 0)", NAMES).holds(env)
    assert not check_rule("all(w != 0)", NAMES).holds(env)
    assert check_rule("all(w >= 0 where symbol in tech) == (tol < 1)", NAMES).holds(env) is False
    assert check_rule("not given(cap) or cap > 1", NAMES).holds(env)
    assert check_rule("sum(w where sign > 0) == 3", NAMES).holds(env)


def test_a_division_by_zero_at_build_is_an_expression_error():
    rows = check_constraint("sum(fill / w) <= 1", NAMES)
    with pytest.raises(ExprError, match="division by zero"):
        rows.rows(_env([1, 0, 2]))


def test_decimal_or_none_is_exact():
    assert decimal_or_none(Fraction(1, 8)) == Fraction(1, 8)
    assert str(decimal_or_none(Fraction(-231, 20))) == "-11.55"
    assert decimal_or_none(Fraction(1, 3)) is None
