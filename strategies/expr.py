"""The expression language of strategy templates (docs/templates.md §3).

A template's constraints and rules are short expressions over its parameters
and per-position fields, e.g. the seed's hedge constraint::

    sum(abs(hedge_qty_coeff) * fill) == target_hedge_ratio * sum(hedge_qty_coeff * fill)

This module reads them without ``eval``: a tokenizer, a recursive-descent
parser into a small immutable tree, a static checker that runs when the
strategies file loads (names, types, linearity, where ``abs`` may stand), and
an evaluator that runs per payload in exact rational arithmetic and yields the
rows of linear constraints over the legs' fill quantities.

Grammar (EBNF; keywords ``and or not in where``; functions ``sum abs any all given``)::

    expression     := disjunction
    disjunction    := conjunction ( "or" conjunction )*
    conjunction    := negation ( "and" negation )*
    negation       := "not" negation | comparison
    comparison     := additive [ ( "<=" | ">=" | "==" | "!=" | "<" | ">" ) additive
                               | [ "not" ] "in" NAME ]
    additive       := multiplicative ( ( "+" | "-" ) multiplicative )*
    multiplicative := unary ( ( "*" | "/" ) unary )*
    unary          := ( "-" | "+" ) unary | primary
    primary        := NUMBER | NAME | NAME "(" arguments ")" | "(" disjunction ")"
    arguments      := disjunction [ "where" disjunction ]
    NUMBER         := [0-9]+ ( "." [0-9]+ )?            (no exponents, at most 30 digits)
    NAME           := [A-Za-z] [A-Za-z0-9_]*            (never a leading "_")

A *constraint* is one comparison (``<=``, ``>=`` or ``==``) between two
expressions linear in ``fill``; ``fill`` (the leg's fill quantity) and the
per-position names appear only inside ``sum(...)``. ``abs()`` of a
fill-dependent sum is expanded exactly: ``abs(x) <= y`` becomes the two rows
``x <= y`` and ``-x <= y`` (at most three such terms, eight rows). A *rule*
is a condition on the payload alone (``and``, ``or``, ``not``, comparisons,
``given(parameter)``, ``any(...)``/``all(...)`` over positions); it never sees
``fill``.

Limits that keep hostile input cheap: 1,000 characters, 400 tokens, 24 levels
of nesting, 30 significant digits per number.
"""

from __future__ import annotations

import difflib
import enum
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from gateway.core.bundle import Sense
from gateway.core.exact import parse_decimal

__all__ = [
    "BUILTIN_NAMES",
    "FUNCTIONS",
    "KEYWORDS",
    "MAX_ABS_TERMS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_TOKENS",
    "CheckedConstraint",
    "CheckedRule",
    "Env",
    "ExprError",
    "Kind",
    "NameInfo",
    "Node",
    "Row",
    "Sign",
    "check_constraint",
    "check_rule",
    "decimal_or_none",
    "parse",
    "tokenize",
]

MAX_LENGTH = 1000
MAX_TOKENS = 400
MAX_DEPTH = 24
MAX_ABS_TERMS = 3
_MAX_NUMBER_CHARS = 40
_MAX_NAME_CHARS = 64

KEYWORDS = frozenset({"and", "or", "not", "in", "where"})
FUNCTIONS = frozenset({"sum", "abs", "any", "all", "given"})
_AGGREGATES = frozenset({"sum", "any", "all"})
_COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ",")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = " \t\r\n"


class ExprError(ValueError):
    """An expression is malformed, ill-typed or cannot be evaluated.

    ``column`` is 1-based within the expression text (None when the problem is
    the expression as a whole).
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message if column is None else f"{message} (column {column})")
        self.reason = message
        self.column = column


# --- tokens -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: Literal["number", "name", "op", "end"]
    text: str
    column: int  # 1-based
    end: int  # 0-based offset just past the token


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, refusing anything outside the language."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is {len(text)} characters long; at most {MAX_LENGTH}")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        if "0" <= ch <= "9":
            token = _number_token(text, i)
        elif ("A" <= ch <= "Z") or ("a" <= ch <= "z") or ch == "_":
            token = _name_token(text, i)
        else:
            token = _operator_token(text, i)
        tokens.append(token)
        i = token.end
        if len(tokens) > MAX_TOKENS:
            raise ExprError(f"more than {MAX_TOKENS} tokens", token.column)
    tokens.append(Token("end", "", n + 1, n))
    return tokens


def _number_token(text: str, i: int) -> Token:
    match = _NUMBER.match(text, i)
    assert match is not None  # a digit always starts a number
    end = match.end()
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        word = re.match(r"[0-9A-Za-z_.]*", text[i:])
        shown = word.group(0) if word else text[i : end + 1]
        raise ExprError(
            f"malformed number {shown!r}: write plain decimals such as 12.5 "
            "(no exponents, no digit separators)",
            i + 1,
        )
    if end - i > _MAX_NUMBER_CHARS:
        raise ExprError(f"number of {end - i} characters; numbers have at most 30 digits", i + 1)
    return Token("number", text[i:end], i + 1, end)


def _name_token(text: str, i: int) -> Token:
    match = _NAME.match(text, i)
    assert match is not None  # a letter or '_' always starts a name
    name = match.group(0)
    if name.startswith("_"):
        raise ExprError(f"name {name!r}: names may not start with '_'", i + 1)
    if len(name) > _MAX_NAME_CHARS:
        raise ExprError(f"name of {len(name)} characters; at most {_MAX_NAME_CHARS}", i + 1)
    return Token("name", name, i + 1, match.end())


def _operator_token(text: str, i: int) -> Token:
    if text[i] == ".":
        if i + 1 < len(text) and "0" <= text[i + 1] <= "9":
            raise ExprError("write a leading zero: 0.5, not .5", i + 1)
        raise ExprError("attribute access ('.') is not allowed", i + 1)
    if text.startswith("**", i):
        raise ExprError("'**' (power) is not allowed: constraints are linear", i + 1)
    op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
    if op is None:
        raise ExprError(_unexpected(text[i]), i + 1)
    return Token("op", op, i + 1, i + len(op))


def _unexpected(ch: str) -> str:
    hints = {
        "=": "'=' is not a comparison: use '=='",
        "!": "use 'not' for negation ('!=' compares)",
        "&": "use 'and'",
        "|": "use 'or'",
        "[": "indexing is not allowed",
        "]": "indexing is not allowed",
        "{": "only numbers and names are allowed, not literals",
        "}": "only numbers and names are allowed, not literals",
        "'": "strings are not allowed",
        '"': "strings are not allowed",
        ":": "':' is not allowed (no lambdas, slices or keywords)",
        ";": "one expression only",
        "%": "'%' is not allowed: give percentages as a 'percentage' parameter",
        "@": "'@' is not allowed",
        "\\": "backslashes are not allowed",
    }
    if ch in hints:
        return hints[ch]
    if not ch.isascii():
        return f"unexpected character {ch!r} (U+{ord(ch):04X}): expressions are ASCII"
    return f"unexpected character {ch!r}"


# --- the tree -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """A parsed expression; ``start``/``end`` are offsets into the source text."""

    column: int
    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False)
class Number(Node):
    value: Fraction


@dataclass(frozen=True, slots=True, eq=False)
class Name(Node):
    id: str


@dataclass(frozen=True, slots=True, eq=False)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True, eq=False)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True, eq=False)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True, eq=False)
class Member(Node):
    negated: bool
    left: Node
    collection: Name


@dataclass(frozen=True, slots=True, eq=False)
class BoolOp(Node):
    op: str
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True, eq=False)
class Call(Node):
    func: str
    argument: Node
    where: Node | None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # token helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _is(self, kind: str, *texts: str) -> bool:
        token = self.token
        return token.kind == kind and (not texts or token.text in texts)

    def _keyword(self, word: str) -> bool:
        return self._is("name", word)

    def _expect_op(self, op: str, context: str) -> Token:
        if not self._is("op", op):
            raise ExprError(f"expected {op!r} {context}, found {self._shown()}", self.token.column)
        return self._advance()

    def _shown(self) -> str:
        token = self.token
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"nested more than {MAX_DEPTH} levels deep", self.token.column)

    def _leave(self) -> None:
        self.depth -= 1

    # grammar
    def parse(self) -> Node:
        if self._is("end"):
            raise ExprError("empty expression")
        node = self._disjunction()
        if not self._is("end"):
            if self._is("op", *_COMPARISONS):
                raise ExprError(
                    "chained comparison: write one comparison per constraint or rule",
                    self.token.column,
                )
            raise ExprError(f"unexpected {self._shown()}", self.token.column)
        return node

    def _disjunction(self) -> Node:
        first = self._conjunction()
        operands = [first]
        while self._keyword("or"):
            self._advance()
            operands.append(self._conjunction())
        if len(operands) == 1:
            return first
        return BoolOp(first.column, first.start, operands[-1].end, "or", tuple(operands))

    def _conjunction(self) -> Node:
        first = self._negation()
        operands = [first]
        while self._keyword("and"):
            self._advance()
            operands.append(self._negation())
        if len(operands) == 1:
            return first
        return BoolOp(first.column, first.start, operands[-1].end, "and", tuple(operands))

    def _negation(self) -> Node:
        if self._keyword("not"):
            token = self._advance()
            self._enter()
            operand = self._negation()
            self._leave()
            return Not(token.column, token.column - 1, operand.end, operand)
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._additive()
        if self._is("op", *_COMPARISONS):
            op = self._advance().text
            right = self._additive()
            return Compare(left.column, left.start, right.end, op, left, right)
        negated = False
        if self._keyword("not") and self.tokens[self.index + 1].text == "in":
            self._advance()
            negated = True
        if self._keyword("in"):
            self._advance()
            if self.token.kind != "name" or self.token.text in KEYWORDS:
                raise ExprError(
                    f"expected a symbol-list parameter after 'in', found {self._shown()}",
                    self.token.column,
                )
            token = self._advance()
            collection = Name(token.column, token.column - 1, token.end, token.text)
            return Member(left.column, left.start, token.end, negated, left, collection)
        return left

    def _additive(self) -> Node:
        node = self._multiplicative()
        while self._is("op", "+", "-"):
            op = self._advance().text
            right = self._multiplicative()
            node = Binary(node.column, node.start, right.end, op, node, right)
        return node

    def _multiplicative(self) -> Node:
        node = self._unary()
        while self._is("op", "*", "/"):
            op = self._advance().text
            right = self._unary()
            node = Binary(node.column, node.start, right.end, op, node, right)
        return node

    def _unary(self) -> Node:
        if self._is("op", "-", "+"):
            token = self._advance()
            self._enter()
            operand = self._unary()
            self._leave()
            return Unary(token.column, token.column - 1, operand.end, token.text, operand)
        return self._primary()

    def _primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self._advance()
            try:
                value = parse_decimal(token.text)
            except ValueError as exc:
                raise ExprError(f"number {token.text}: {exc}", token.column) from None
            return Number(token.column, token.column - 1, token.end, Fraction(value))
        if token.kind == "name":
            if token.text in KEYWORDS:
                raise ExprError(f"unexpected keyword {token.text!r}", token.column)
            self._advance()
            if self._is("op", "("):
                return self._call(token)
            return Name(token.column, token.column - 1, token.end, token.text)
        if self._is("op", "("):
            self._advance()
            self._enter()
            node = self._disjunction()
            self._leave()
            self._expect_op(")", "to close the '('")
            return node
        if token.kind == "end":
            raise ExprError("the expression ends too early", token.column)
        raise ExprError(f"unexpected {token.text!r}", token.column)

    def _call(self, name: Token) -> Node:
        if name.text not in FUNCTIONS:
            raise ExprError(
                f"unknown function {name.text!r} (functions: {', '.join(sorted(FUNCTIONS))})",
                name.column,
            )
        self._advance()  # "("
        self._enter()
        if self._is("op", ")"):
            raise ExprError(f"{name.text}() needs an argument", self.token.column)
        argument = self._disjunction()
        where: Node | None = None
        if self._keyword("where"):
            if name.text not in _AGGREGATES:
                raise ExprError(
                    f"'where' filters positions in sum/any/all, not in {name.text}()",
                    self.token.column,
                )
            self._advance()
            where = self._disjunction()
        if self._is("op", ","):
            raise ExprError(f"{name.text}() takes one argument", self.token.column)
        close = self._expect_op(")", f"to close {name.text}(")
        self._leave()
        return Call(name.column, name.column - 1, close.end, name.text, argument, where)


def parse(text: str) -> Node:
    """Parse an expression (constraint or rule) into its tree; raises :class:`ExprError`."""
    return _Parser(text).parse()


# --- static checking ----------------------------------------------------------------


class Kind(enum.Enum):
    NUMBER = "number"
    BOOL = "condition"
    SYMBOL = "symbol"
    SYMBOLS = "symbol list"


class Sign(enum.Enum):
    """What is known at load time about a number's sign."""

    ZERO = "0"
    NONNEG = ">=0"
    NONPOS = "<=0"
    ANY = "?"

    def __neg__(self) -> Sign:
        return {Sign.NONNEG: Sign.NONPOS, Sign.NONPOS: Sign.NONNEG}.get(self, self)

    def __mul__(self, other: Sign) -> Sign:
        if Sign.ZERO in (self, other):
            return Sign.ZERO
        if Sign.ANY in (self, other):
            return Sign.ANY
        return Sign.NONNEG if self is other else Sign.NONPOS

    def __add__(self, other: Sign) -> Sign:
        if self is Sign.ZERO:
            return other
        if other is Sign.ZERO or self is other:
            return self
        return Sign.ANY

    @classmethod
    def of(cls, value: Fraction) -> Sign:
        if value == 0:
            return cls.ZERO
        return cls.NONNEG if value > 0 else cls.NONPOS


@dataclass(frozen=True, slots=True)
class NameInfo:
    """What a name means in a template's expressions.

    Attributes:
        kind: number, symbol or symbol list.
        per_position: a per-position value (usable only inside sum/any/all).
        sign: what is known of its sign at load time (``min: 0`` makes it NONNEG).
        optional: an optional parameter (needs ``when:`` or ``given()``).
        fill: the fill quantity itself (the one fill-dependent name).
        description: one line for error messages and ``bidgw strategies``.
    """

    kind: Kind
    per_position: bool = False
    sign: Sign = Sign.ANY
    optional: bool = False
    fill: bool = False
    description: str = ""


#: Per-position names every template has (docs/templates.md §3).
BUILTIN_NAMES: Mapping[str, NameInfo] = {
    "fill": NameInfo(
        Kind.NUMBER, True, Sign.NONNEG, fill=True, description="the leg's fill quantity"
    ),
    "price": NameInfo(Kind.NUMBER, True, Sign.NONNEG, description="the order's limit price"),
    "max_qty": NameInfo(
        Kind.NUMBER, True, Sign.NONNEG, description="the order's maximum quantity (its qty)"
    ),
    "lot_size": NameInfo(Kind.NUMBER, True, Sign.NONNEG, description="the leg's lot size"),
    "sign": NameInfo(Kind.NUMBER, True, Sign.ANY, description="+1 for Buy, -1 for Sell"),
    "symbol": NameInfo(Kind.SYMBOL, True, description="the order's symbol (with 'in')"),
}

#: Names that read like something they are not, with what to write instead.
_NAME_HINTS = {
    "qty": "the fill quantity is 'fill'; the order's maximum quantity is 'max_qty'",
    "side": "use 'sign' (+1 Buy, -1 Sell)",
    "true": "conditions have no literals; compare numbers instead",
    "false": "conditions have no literals; compare numbers instead",
}


@dataclass(frozen=True, slots=True)
class _Type:
    kind: Kind
    degree: int = 0  # 1: depends on the fill
    per_position: bool = False
    homogeneous: bool = True  # degree 1: every additive term carries the fill
    sign: Sign = Sign.ANY  # degree 0 numbers
    has_abs: bool = False  # holds abs() of a fill-dependent sum (outside aggregates)


@dataclass(frozen=True, slots=True)
class _Scope:
    mode: Literal["constraint", "rule"]
    aggregate: Literal["sum", "filter"] | None = None  # filter: any/all argument or a where


@dataclass(slots=True)
class _Checker:
    names: Mapping[str, NameInfo]
    types: dict[int, _Type] = field(default_factory=dict)
    optional_uses: dict[str, int] = field(default_factory=dict)  # name -> first column

    def check(self, node: Node, scope: _Scope) -> _Type:
        result = self._check(node, scope)
        self.types[id(node)] = result
        return result

    def _number(self, node: Node, scope: _Scope, what: str) -> _Type:
        result = self.check(node, scope)
        if result.kind is not Kind.NUMBER:
            raise ExprError(f"{what} needs a number, not a {result.kind.value}", node.column)
        return result

    def _condition(self, node: Node, scope: _Scope, what: str) -> _Type:
        result = self.check(node, scope)
        if result.kind is not Kind.BOOL:
            raise ExprError(f"{what} needs a condition, not a {result.kind.value}", node.column)
        return result

    def _check(self, node: Node, scope: _Scope) -> _Type:
        if isinstance(node, Number):
            return _Type(Kind.NUMBER, sign=Sign.of(node.value))
        if isinstance(node, Name):
            return self._name(node, scope)
        if isinstance(node, Unary):
            operand = self._number(node.operand, scope, f"unary '{node.op}'")
            sign = -operand.sign if node.op == "-" else operand.sign
            return _Type(
                Kind.NUMBER,
                operand.degree,
                operand.per_position,
                operand.homogeneous,
                sign,
                operand.has_abs,
            )
        if isinstance(node, Binary):
            return self._binary(node, scope)
        if isinstance(node, Compare):
            return self._compare(node, scope)
        if isinstance(node, Member):
            return self._member(node, scope)
        if isinstance(node, BoolOp | Not):
            word = "not" if isinstance(node, Not) else node.op
            if scope.mode == "constraint" and scope.aggregate is None:
                raise ExprError(
                    f"'{word}' combines conditions: it belongs in a rule or a where-filter, "
                    "not in a constraint",
                    node.column,
                )
            operands = node.operands if isinstance(node, BoolOp) else (node.operand,)
            checked = [self._condition(o, scope, f"'{word}'") for o in operands]
            return _Type(Kind.BOOL, per_position=any(c.per_position for c in checked))
        if isinstance(node, Call):
            return self._call(node, scope)
        raise ExprError("unsupported expression", node.column)  # pragma: no cover

    def _name(self, node: Name, scope: _Scope) -> _Type:
        info = self.names.get(node.id)
        if info is None:
            message = f"unknown name {node.id!r}"
            if node.id in _NAME_HINTS:
                message += f": {_NAME_HINTS[node.id]}"
            elif node.id in FUNCTIONS:
                message = f"{node.id} is a function: write {node.id}(...)"
            else:
                close = difflib.get_close_matches(node.id, list(self.names), n=1)
                if close:
                    message += f" (did you mean {close[0]!r}?)"
            raise ExprError(message, node.column)
        if info.per_position and scope.aggregate is None:
            where = "sum(...)" if scope.mode == "constraint" else "sum/any/all(...)"
            raise ExprError(
                f"{node.id!r} is a per-position value: use it inside {where}", node.column
            )
        if info.fill and (scope.mode != "constraint" or scope.aggregate != "sum"):
            raise ExprError(
                "'fill' (the fill quantity) can only be used inside sum(...) in a constraint",
                node.column,
            )
        if info.optional:
            self.optional_uses.setdefault(node.id, node.column)
        if info.fill:
            return _Type(Kind.NUMBER, degree=1, per_position=True, sign=Sign.NONNEG)
        return _Type(info.kind, per_position=info.per_position, sign=info.sign)

    def _binary(self, node: Binary, scope: _Scope) -> _Type:
        left = self._number(node.left, scope, f"'{node.op}'")
        right = self._number(node.right, scope, f"'{node.op}'")
        per_position = left.per_position or right.per_position
        has_abs = left.has_abs or right.has_abs
        if node.op in "+-":
            degree = max(left.degree, right.degree)
            if left.degree and right.degree:
                homogeneous = left.homogeneous and right.homogeneous
            else:
                homogeneous = degree == 0
            sign = left.sign + (-right.sign if node.op == "-" else right.sign)
            return _Type(Kind.NUMBER, degree, per_position, homogeneous, sign, has_abs)
        if node.op == "*":
            if left.degree and right.degree:
                raise ExprError(
                    "not linear: both sides of '*' depend on the fill", node.right.column
                )
            homogeneous = left.homogeneous if left.degree else right.homogeneous
            return _Type(
                Kind.NUMBER,
                left.degree + right.degree,
                per_position,
                homogeneous,
                left.sign * right.sign,
                has_abs,
            )
        if right.degree:
            raise ExprError("cannot divide by something that depends on the fill", node.column)
        if isinstance(node.right, Number) and node.right.value == 0:
            raise ExprError("division by zero", node.right.column)
        return _Type(
            Kind.NUMBER,
            left.degree,
            per_position,
            left.homogeneous,
            left.sign * right.sign,
            has_abs,
        )

    def _compare(self, node: Compare, scope: _Scope) -> _Type:
        if scope.mode == "constraint" and scope.aggregate is None:
            raise ExprError(
                "a comparison can only be the whole constraint (one per constraint)", node.column
            )
        left = self.check(node.left, scope)
        right = self.check(node.right, scope)
        if left.kind is Kind.BOOL and right.kind is Kind.BOOL and node.op in ("==", "!="):
            return _Type(Kind.BOOL, per_position=left.per_position or right.per_position)
        for side in (node.left, node.right):
            if self.types[id(side)].kind is not Kind.NUMBER:
                raise ExprError(
                    f"'{node.op}' compares numbers, not a {self.types[id(side)].kind.value}",
                    side.column,
                )
        return _Type(Kind.BOOL, per_position=left.per_position or right.per_position)

    def _member(self, node: Member, scope: _Scope) -> _Type:
        left = self.check(node.left, scope)
        if left.kind is not Kind.SYMBOL:
            raise ExprError("'in' tests a position's 'symbol' against a list", node.left.column)
        info = self.names.get(node.collection.id)
        if info is None or info.kind is not Kind.SYMBOLS:
            raise ExprError(
                f"{node.collection.id!r} is not a symbol-list parameter", node.collection.column
            )
        self.check(node.collection, scope)
        return _Type(Kind.BOOL, per_position=True)

    def _call(self, node: Call, scope: _Scope) -> _Type:
        if node.func == "given":
            if scope.mode != "rule":
                raise ExprError("given() belongs in rules; constraints use 'when:'", node.column)
            if not isinstance(node.argument, Name) or not self._is_optional(node.argument.id):
                raise ExprError(
                    "given() takes the name of an optional parameter", node.argument.column
                )
            return _Type(Kind.BOOL)
        if node.func == "abs":
            return self._abs(node, scope)
        if scope.aggregate is not None:
            raise ExprError(f"{node.func}() cannot be nested in sum/any/all", node.column)
        if node.func == "sum":
            inner = self._number(node.argument, _Scope(scope.mode, "sum"), "sum()")
            self._filter(node, scope)
            return _Type(
                Kind.NUMBER, inner.degree, False, inner.homogeneous, inner.sign, has_abs=False
            )
        if scope.mode != "rule":
            raise ExprError(
                f"{node.func}() is a condition: it belongs in a rule, not a constraint",
                node.column,
            )
        self._condition(node.argument, _Scope(scope.mode, "filter"), f"{node.func}()")
        self._filter(node, scope)
        return _Type(Kind.BOOL)

    def _filter(self, node: Call, scope: _Scope) -> None:
        if node.where is not None:
            self._condition(node.where, _Scope(scope.mode, "filter"), "'where'")

    def _abs(self, node: Call, scope: _Scope) -> _Type:
        inner = self._number(node.argument, scope, "abs()")
        if inner.degree == 0:
            return _Type(Kind.NUMBER, per_position=inner.per_position, sign=Sign.NONNEG)
        if scope.aggregate is not None:
            if not inner.homogeneous:
                raise ExprError(
                    "abs() of the fill plus a constant is not linear per position; "
                    "only abs(<factor> * fill) is",
                    node.column,
                )
            return _Type(Kind.NUMBER, 1, True, True, Sign.NONNEG)
        if inner.has_abs:
            raise ExprError(
                "abs() inside abs() of a fill-dependent sum cannot be expanded exactly",
                node.column,
            )
        return _Type(Kind.NUMBER, 1, False, inner.homogeneous, Sign.ANY, has_abs=True)

    def _is_optional(self, name: str) -> bool:
        info = self.names.get(name)
        return info is not None and info.optional


# --- checked expressions and their evaluation -----------------------------------------


@dataclass(frozen=True, slots=True)
class Env:
    """The values one payload gives the names.

    Attributes:
        params: list-level values: a Fraction (numbers; percentages already
            divided by 100), a frozenset of symbols, or None when an optional
            parameter is not given.
        positions: per position, its fields and the built-ins (``price``,
            ``max_qty``, ``lot_size``, ``sign`` as Fractions, ``symbol`` as str).
    """

    params: Mapping[str, Fraction | frozenset[str] | None]
    positions: Sequence[Mapping[str, Fraction | str]]


@dataclass(frozen=True, slots=True)
class _Linear:
    """``Σ coefficients[i]·q_i + constant + Σ m·|L|`` over the positions' fills."""

    coefficients: tuple[Fraction, ...]
    constant: Fraction
    abs_terms: tuple[tuple[Fraction, _Linear, Node], ...] = ()

    def scaled(self, factor: Fraction) -> _Linear:
        return _Linear(
            tuple(c * factor for c in self.coefficients),
            self.constant * factor,
            tuple((m * factor, inner, node) for m, inner, node in self.abs_terms),
        )

    def plus(self, other: _Linear) -> _Linear:
        return _Linear(
            tuple(a + b for a, b in zip(self.coefficients, other.coefficients, strict=True)),
            self.constant + other.constant,
            self.abs_terms + other.abs_terms,
        )


@dataclass(frozen=True, slots=True)
class _PerFill:
    """Inside a sum: ``a · fill + b`` for one position."""

    a: Fraction
    b: Fraction


_Value = Fraction | _Linear | _PerFill | bool | str | frozenset[str] | None


def _as_linear(value: _Value, n: int) -> _Linear:
    if isinstance(value, _Linear):
        return value
    assert isinstance(value, Fraction)
    return _Linear((Fraction(0),) * n, value)


def _as_per_fill(value: _Value) -> _PerFill:
    if isinstance(value, _PerFill):
        return value
    assert isinstance(value, Fraction)
    return _PerFill(Fraction(0), value)


@dataclass(frozen=True, slots=True)
class Row:
    """One linear row over the positions' fills: ``Σ coefficients[i]·q_i  sense  rhs``.

    ``suffix`` tells the rows of one expanded constraint apart (``upper``,
    ``lower``; empty when the constraint gave one row); ``expansion`` says in
    words which side of each ``abs()`` the row takes.
    """

    coefficients: tuple[Fraction, ...]
    sense: Sense
    rhs: Fraction
    suffix: str = ""
    expansion: str = ""


class _Evaluator:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.n = len(env.positions)

    def value(self, node: Node, position: int | None = None) -> _Value:  # noqa: PLR0912 - one branch per node type
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Name):
            if position is not None and node.id in self.env.positions[position]:
                return self.env.positions[position][node.id]
            if node.id == "fill":
                return _PerFill(Fraction(1), Fraction(0))
            value = self.env.params[node.id]
            if value is None:
                raise ExprError(f"parameter {node.id!r} is not given", node.column)
            return value
        if isinstance(node, Unary):
            operand = self.value(node.operand, position)
            return self._scale(operand, Fraction(-1 if node.op == "-" else 1))
        if isinstance(node, Binary):
            return self._binary(node, position)
        if isinstance(node, Compare):
            return self._compare(node, position)
        if isinstance(node, Member):
            symbols = self.env.params.get(node.collection.id)
            if symbols is None:
                raise ExprError(f"parameter {node.collection.id!r} is not given", node.column)
            assert isinstance(symbols, frozenset)
            assert position is not None
            inside = self.env.positions[position]["symbol"] in symbols
            return inside != node.negated
        if isinstance(node, BoolOp):
            results = (self.value(o, position) for o in node.operands)
            return any(results) if node.op == "or" else all(results)
        if isinstance(node, Not):
            return not self.value(node.operand, position)
        if isinstance(node, Call):
            return self._call(node, position)
        raise ExprError("unsupported expression", node.column)  # pragma: no cover

    def _scale(self, value: _Value, factor: Fraction) -> _Value:
        if isinstance(value, Fraction):
            return value * factor
        if isinstance(value, _Linear):
            return value.scaled(factor)
        if isinstance(value, _PerFill):
            return _PerFill(value.a * factor, value.b * factor)
        raise ExprError("not a number")  # pragma: no cover - ruled out by the checker

    def _binary(self, node: Binary, position: int | None) -> _Value:
        left = self.value(node.left, position)
        right = self.value(node.right, position)
        if node.op in "+-":
            if node.op == "-":
                right = self._scale(right, Fraction(-1))
            if isinstance(left, Fraction) and isinstance(right, Fraction):
                return left + right
            if position is not None:
                a, b = _as_per_fill(left), _as_per_fill(right)
                return _PerFill(a.a + b.a, a.b + b.b)
            return _as_linear(left, self.n).plus(_as_linear(right, self.n))
        if node.op == "*":
            if isinstance(left, Fraction):
                return self._scale(right, left)
            assert isinstance(right, Fraction)  # the checker refuses fill * fill
            return self._scale(left, right)
        assert isinstance(right, Fraction)  # the checker refuses dividing by the fill
        if right == 0:
            raise ExprError("division by zero", node.right.column)
        return self._scale(left, 1 / right)

    def _compare(self, node: Compare, position: int | None) -> bool:
        left = self.value(node.left, position)
        right = self.value(node.right, position)
        if isinstance(left, bool) or isinstance(right, bool):
            return (left == right) == (node.op == "==")
        assert isinstance(left, Fraction)
        assert isinstance(right, Fraction)
        return _COMPARE[node.op](left, right)

    def _call(self, node: Call, position: int | None) -> _Value:
        if node.func == "given":
            assert isinstance(node.argument, Name)
            return self.env.params.get(node.argument.id) is not None
        if node.func == "abs":
            inner = self.value(node.argument, position)
            if isinstance(inner, Fraction):
                return abs(inner)
            if isinstance(inner, _PerFill):
                assert inner.b == 0  # the checker asks for a homogeneous term
                return _PerFill(abs(inner.a), Fraction(0))
            assert isinstance(inner, _Linear)
            return _Linear((Fraction(0),) * self.n, Fraction(0), ((Fraction(1), inner, node),))
        chosen = [
            i for i in range(self.n) if node.where is None or self._truth(self.value(node.where, i))
        ]
        if node.func == "any":
            return any(self._truth(self.value(node.argument, i)) for i in chosen)
        if node.func == "all":
            return all(self._truth(self.value(node.argument, i)) for i in chosen)
        coefficients = [Fraction(0)] * self.n
        constant = Fraction(0)
        for i in chosen:
            term = self.value(node.argument, i)
            if isinstance(term, Fraction):
                constant += term
            else:
                assert isinstance(term, _PerFill)
                coefficients[i] += term.a
                constant += term.b
        if not any(coefficients) and not _fill_dependent(node.argument):
            return constant
        return _Linear(tuple(coefficients), constant)

    @staticmethod
    def _truth(value: _Value) -> bool:
        assert isinstance(value, bool)
        return value


_COMPARE: Mapping[str, Callable[[Fraction, Fraction], bool]] = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def _fill_dependent(node: Node) -> bool:
    """Whether a sum's argument mentions ``fill`` (statically degree 1)."""
    if isinstance(node, Name):
        return node.id == "fill"
    children: tuple[Node | None, ...]
    if isinstance(node, Unary | Not):
        children = (node.operand,)
    elif isinstance(node, Binary | Compare):
        children = (node.left, node.right)
    elif isinstance(node, BoolOp):
        children = node.operands
    elif isinstance(node, Call):
        children = (node.argument, node.where)
    else:
        children = ()
    return any(child is not None and _fill_dependent(child) for child in children)


def _names_in(node: Node, *, skip_given: bool) -> list[Name]:
    found: list[Name] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name):
            found.append(current)
        elif isinstance(current, Unary | Not):
            stack.append(current.operand)
        elif isinstance(current, Binary | Compare):
            stack.extend((current.left, current.right))
        elif isinstance(current, Member):
            stack.extend((current.left, current.collection))
        elif isinstance(current, BoolOp):
            stack.extend(current.operands)
        elif isinstance(current, Call):
            if current.func == "given" and skip_given:
                continue
            stack.append(current.argument)
            if current.where is not None:
                stack.append(current.where)
    return found


@dataclass(frozen=True, slots=True)
class CheckedConstraint:
    """A constraint that passed the static checks: evaluate it per payload with :meth:`rows`."""

    text: str
    tree: Compare
    sense: Sense
    optional_names: frozenset[str]
    #: How many abs() of fill-dependent sums it expands (2^k rows).
    abs_terms: int = 0

    @property
    def row_suffixes(self) -> tuple[str, ...]:
        """The suffix of each row :meth:`rows` returns, in order (``("",)`` for one row)."""
        return tuple(
            "_".join("upper" if s > 0 else "lower" for s in signs)
            for signs in itertools.product((1, -1), repeat=self.abs_terms)
        )

    def rows(self, env: Env) -> list[Row]:
        """The linear rows this constraint means for one payload, exactly.

        ``left op right`` becomes ``left − right op 0``; each ``m·|x|`` term is
        replaced by ``±m·x`` in every combination of signs (``abs(x) <= y`` ⇔
        ``x <= y`` and ``−x <= y``), so 2^k rows for k terms.

        Raises:
            ExprError: a division by zero, or an abs() term whose multiplier has
                the wrong sign for this payload (the static check rules that out
                for parameters declared with ``min: 0``).
        """
        evaluator = _Evaluator(env)
        n = len(env.positions)
        left = _as_linear(evaluator.value(self.tree.left), n)
        right = _as_linear(evaluator.value(self.tree.right), n)
        difference = left.plus(right.scaled(Fraction(-1)))
        terms = difference.abs_terms
        for multiplier, _, node in terms:
            wrong = multiplier < 0 if self.sense is Sense.LE else multiplier > 0
            if wrong:
                raise ExprError(
                    f"abs(...) ends up multiplied by {multiplier} for this payload: "
                    "it cannot be expanded into linear rows",
                    node.column,
                )
        rows: list[Row] = []
        combinations = itertools.product((1, -1), repeat=len(terms))
        for signs, suffix in zip(combinations, self.row_suffixes, strict=True):
            coefficients = list(difference.coefficients)
            constant = difference.constant
            for sign, (multiplier, inner, _) in zip(signs, terms, strict=True):
                for i, c in enumerate(inner.coefficients):
                    coefficients[i] += sign * multiplier * c
                constant += sign * multiplier * inner.constant
            expansion = "; ".join(
                f"{self.text[node.start : node.end]} taken as {'+' if s > 0 else '-'}(...)"
                for s, (_, _, node) in zip(signs, terms, strict=True)
            )
            rows.append(Row(tuple(coefficients), self.sense, -constant, suffix, expansion))
        return rows


@dataclass(frozen=True, slots=True)
class CheckedRule:
    """A rule that passed the static checks: :meth:`holds` per payload."""

    text: str
    tree: Node
    optional_names: frozenset[str]

    def holds(self, env: Env) -> bool:
        value = _Evaluator(env).value(self.tree)
        assert isinstance(value, bool)
        return value


_SENSES = {"<=": Sense.LE, ">=": Sense.GE, "==": Sense.EQ}


def check_constraint(text: str, names: Mapping[str, NameInfo]) -> CheckedConstraint:
    """Parse and check a constraint; raises :class:`ExprError` naming the column."""
    tree = parse(text)
    if isinstance(tree, BoolOp | Not):
        raise ExprError(
            "a constraint is one comparison: write one constraint per comparison "
            "('and', 'or' and 'not' combine conditions in rules)",
            tree.column,
        )
    if not isinstance(tree, Compare) or tree.op not in _SENSES:
        shown = tree.op if isinstance(tree, Compare) else None
        raise ExprError(
            "a constraint is one comparison with <=, >= or =="
            + (f"; {shown!r} cannot be a linear constraint" if shown else ""),
            tree.column,
        )
    checker = _Checker(names)
    scope = _Scope("constraint")
    left = checker._number(tree.left, scope, f"'{tree.op}'")
    right = checker._number(tree.right, scope, f"'{tree.op}'")
    if not (left.degree or right.degree):
        raise ExprError(
            "the constraint does not depend on any fill: use 'fill' inside sum(...)", tree.column
        )
    terms: list[tuple[Call, Sign]] = []
    _abs_polarity(tree.left, Sign.NONNEG, checker.types, terms)
    _abs_polarity(tree.right, Sign.NONPOS, checker.types, terms)
    if len(terms) > MAX_ABS_TERMS:
        raise ExprError(
            f"{len(terms)} abs() terms of fill-dependent sums; at most {MAX_ABS_TERMS} "
            f"({2**MAX_ABS_TERMS} rows)",
            terms[MAX_ABS_TERMS][0].column,
        )
    sense = _SENSES[tree.op]
    for node, polarity in terms:
        _check_polarity(node, polarity, sense, text)
    return CheckedConstraint(text, tree, sense, frozenset(checker.optional_uses), len(terms))


def _check_polarity(node: Call, polarity: Sign, sense: Sense, text: str) -> None:
    shown = text[node.start : node.end]
    if sense is Sense.EQ:
        raise ExprError(
            f"{shown} with '==' means 'x == y or -x == y': not linear. Use "
            "abs(x) <= y (two rows) or write the equality without abs()",
            node.column,
        )
    wanted = Sign.NONNEG if sense is Sense.LE else Sign.NONPOS
    if polarity is Sign.ANY:
        raise ExprError(
            f"cannot tell at load time whether {shown} is multiplied by a positive or a "
            "negative number: give the parameters it is multiplied by 'min: 0'",
            node.column,
        )
    if polarity not in (wanted, Sign.ZERO):
        raise ExprError(
            f"{shown} on this side of '{sense.value}' would need an 'or' (abs(x) >= y is "
            "'x >= y or -x >= y'): only abs(x) <= y, or y >= abs(x), expands into linear rows",
            node.column,
        )


def _abs_polarity(
    node: Node, polarity: Sign, types: Mapping[int, _Type], out: list[tuple[Call, Sign]]
) -> None:
    """Collect each top-level abs() of a fill-dependent sum with the sign it enters
    ``left − right`` with."""
    if isinstance(node, Call):
        if node.func == "abs" and types[id(node)].has_abs:
            out.append((node, polarity))
        return
    if isinstance(node, Unary):
        _abs_polarity(node.operand, -polarity if node.op == "-" else polarity, types, out)
    elif isinstance(node, Binary):
        left, right = types[id(node.left)], types[id(node.right)]
        if node.op in "+-":
            _abs_polarity(node.left, polarity, types, out)
            _abs_polarity(node.right, -polarity if node.op == "-" else polarity, types, out)
        elif node.op == "*":
            if left.has_abs:
                _abs_polarity(node.left, polarity * right.sign, types, out)
            if right.has_abs:
                _abs_polarity(node.right, polarity * left.sign, types, out)
        elif left.has_abs:  # "/": the divisor never depends on the fill
            _abs_polarity(node.left, polarity * right.sign, types, out)


def check_rule(text: str, names: Mapping[str, NameInfo]) -> CheckedRule:
    """Parse and check a rule (a condition on the payload); raises :class:`ExprError`."""
    tree = parse(text)
    checker = _Checker(names)
    checker._condition(tree, _Scope("rule"), "a rule")
    uses = {n.id for n in _names_in(tree, skip_given=True) if checker._is_optional(n.id)}
    return CheckedRule(text, tree, frozenset(uses))


def decimal_or_none(value: Fraction) -> Decimal | None:
    """``value`` as an exact Decimal, or None when its decimal expansion does not end."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return None
    places = max(twos, fives)
    scaled = value * 10**places
    assert scaled.denominator == 1
    return Decimal(scaled.numerator).scaleb(-places)
