"""Strategy templates: bidding logic declared in YAML, no Python (docs/templates.md).

A desk declares a template as an entry of the strategies file::

    strategies:
      sector_capped:
        template:
          parameters:
            tech: {type: symbol_list}
            tech_cap: {type: percentage, description: most of the notional in tech}
          constraints:
            - name: tech_cap
              expr: sum(price * fill where symbol in tech) <= tech_cap * sum(price * fill)

(or ``template: some/file.yaml`` holding the same mapping). The engine here,
:class:`LinearTemplates` (entry point ``linear`` in ``bidgw.templates``),
checks the whole definition when the file loads — names, types, that every
constraint is linear in the fills and that every ``abs()`` expands exactly —
and turns it into a strategy class like a Python plugin's: a pydantic payload
model (the typed parameters, and per position ``symbol``, ``side``, ``qty``,
``price``, ``lot_size`` plus the template's own fields) and a ``build`` that
compiles a payload into an :class:`~gateway.core.bundle.OrderBundle`.

Every error names the file, the line and the template
(:class:`TemplateError`). The expression language is :mod:`strategies.expr`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Literal, NoReturn, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from gateway.core.bundle import Constraint, Leg, OrderBundle
from gateway.core.errors import ConfigError, FieldIssue, PayloadError
from gateway.core.fields import (
    ExactDecimal,
    FrozenModel,
    PositiveDecimal,
    PositiveInt,
    SideField,
    Symbol,
    misspelt_key,
)
from gateway.core.plugins import BuildContext, StrategyConfig, TemplateSource
from strategies._common import build_legs, duplicate_issues
from strategies.expr import (
    BUILTIN_NAMES,
    FUNCTIONS,
    KEYWORDS,
    CheckedConstraint,
    CheckedRule,
    Env,
    ExprError,
    Kind,
    NameInfo,
    Row,
    Sign,
    check_constraint,
    check_rule,
    decimal_or_none,
)

__all__ = [
    "ConstraintSpec",
    "FieldSpec",
    "LinearTemplates",
    "RuleSpec",
    "TemplateError",
    "TemplatePayload",
    "TemplatePosition",
    "TemplateSpec",
    "TemplateStrategy",
    "compile_template",
]

FieldType = Literal["integer", "decimal", "percentage", "symbol_list"]
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
#: Keys a payload position always has (standard FIX order fields on the wire).
_POSITION_KEYS = ("symbol", "side", "qty", "price", "lot_size")
_UNKNOWN = "extra_forbidden"  # pydantic's error type for a key the model does not have
#: Names a template may not give a parameter or field.
_RESERVED = frozenset(
    {*KEYWORDS, *FUNCTIONS, *BUILTIN_NAMES, *_POSITION_KEYS, "positions", "qty", "side"}
)
#: A coefficient needing more bits than this cannot be solved exactly (the solvers
#: compute in doubles; the pre-solver would refuse the row anyway).
_MAX_BITS = 200


class TemplateError(ConfigError):
    """A template definition is invalid: names the file, the line and the template.

    ``str(error)`` reads ``<file>: line <n>, template '<name>', <where>: <what>``.
    """

    def __init__(
        self,
        message: str,
        *,
        template: str,
        file: str | None,
        line: int | None,
        where: str = "",
        column: int | None = None,
    ) -> None:
        parts = [f"line {line}"] if line else []
        parts.append(f"template {template!r}")
        if where:
            parts.append(where)
        text = ", ".join(parts) + f": {message}"
        if column is not None:
            text += f" (column {column} of the expression)"
        super().__init__(text, source=file)
        self.template = template
        self.line = line
        self.column = column


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


#: ``when: name`` or ``when: [a, b]``.
When = Annotated[list[str], BeforeValidator(_as_list)]


class FieldSpec(FrozenModel):
    """A typed parameter (list level) or per-position field of a template.

    Attributes:
        type: ``integer``, ``decimal``, ``percentage`` (written in percent: 5
            means 5%, and the expressions see 0.05) or ``symbol_list`` (a YAML
            list, or one string of symbols separated by commas or spaces, which
            is how it travels over FIX). Fields of a position are numbers.
        description: one line shown by ``bidgw strategies``.
        optional: the payload may leave it out; expressions that use it need
            ``when:`` (parameters only).
        default: the value when the payload leaves it out.
        min: smallest accepted value (percentages: default 0).
        max: largest accepted value (percentages: default 100).
        nonzero: refuse 0 (numbers only).
    """

    type: FieldType
    description: str = ""
    optional: bool = False
    default: Any = None
    min: ExactDecimal | None = None
    max: ExactDecimal | None = None
    nonzero: bool = False


class ConstraintSpec(FrozenModel):
    """One linear constraint of a template.

    Attributes:
        name: the constraint's name in the bundle (an identifier); a constraint
            with ``abs()`` becomes several rows, named ``<name>_upper``/``_lower``.
        expr: the comparison (strategies.expr).
        description: what it means in words; ``{parameter}`` is replaced by the
            payload's value. Default: the expression.
        when: optional parameters that must all be given for it to apply.
    """

    name: str
    expr: str
    description: str | None = None
    when: When = Field(default_factory=list)


class RuleSpec(FrozenModel):
    """A condition a payload must meet (checked before the bundle is built).

    Attributes:
        rule: the condition (strategies.expr; no ``fill``).
        message: what the desk reads when a payload breaks it.
        when: optional parameters that must all be given for it to apply.
    """

    rule: str
    message: str
    when: When = Field(default_factory=list)


class TemplateSpec(FrozenModel):
    """A template definition: the ``template:`` mapping of a strategies entry.

    Attributes:
        description: what the template is for (``bidgw strategies`` shows it).
        parameters: the payload's list-level parameters, by name.
        position_fields: each position's own fields besides symbol, side, qty,
            price and lot_size, by name.
        min_positions: fewest positions a payload may have (default 1).
        require: rules every payload must meet.
        constraints: the linear constraints (at least one).
    """

    description: str = ""
    parameters: dict[str, FieldSpec] = Field(default_factory=dict)
    position_fields: dict[str, FieldSpec] = Field(default_factory=dict)
    min_positions: PositiveInt = 1
    require: list[RuleSpec] = Field(default_factory=list)
    constraints: list[ConstraintSpec] = Field(min_length=1)


class TemplatePosition(FrozenModel):
    """What every template payload position has; a template's model adds its fields.

    Attributes:
        symbol: instrument.
        side: Buy or Sell.
        qty: the leg's maximum quantity.
        price: the leg's limit price.
        lot_size: this leg's lot size (default: the payload's, then the config's).
    """

    symbol: Symbol
    side: SideField
    qty: PositiveInt
    price: PositiveDecimal
    lot_size: PositiveInt | None = None


class TemplatePayload(FrozenModel):
    """Base of every template's payload model: positions plus its parameters."""

    positions: Sequence[TemplatePosition] = Field(min_length=1)


# --- value types ----------------------------------------------------------------------


def _symbols(value: Any) -> tuple[str, ...]:
    items = re.split(r"[\s,]+", value.strip()) if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("expected a list of symbols or a string of symbols")
    symbols = tuple(TypeAdapter(Symbol).validate_python(item) for item in items if item != "")
    if not symbols:
        raise ValueError("the symbol list is empty")
    if len(set(symbols)) != len(symbols):
        raise ValueError("a symbol appears twice in the list")
    return symbols


def _range_check(spec: FieldSpec) -> Any:
    low = spec.min if spec.min is not None or spec.type != "percentage" else Decimal(0)
    high = spec.max if spec.max is not None or spec.type != "percentage" else Decimal(100)

    def check(value: Any) -> Any:
        if low is not None and value < low:
            raise ValueError(f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise ValueError(f"must be at most {high}, got {value}")
        if spec.nonzero and value == 0:
            raise ValueError("must not be 0")
        return value

    return check


def _annotation(spec: FieldSpec) -> Any:
    """The pydantic type of a field (validated like the built-in strategies' fields)."""
    if spec.type == "symbol_list":
        return Annotated[tuple[str, ...], BeforeValidator(_symbols)]
    base: Any = Annotated[int, Field(strict=True)] if spec.type == "integer" else ExactDecimal
    return Annotated[base, AfterValidator(_range_check(spec))]


def _sign(spec: FieldSpec) -> Sign:
    low = spec.min if spec.min is not None or spec.type != "percentage" else Decimal(0)
    if low is not None and low >= 0:
        return Sign.NONNEG
    if spec.max is not None and spec.max <= 0:
        return Sign.NONPOS
    return Sign.ANY


def _kind_text(spec: FieldSpec) -> str:
    words = [spec.type.replace("_", " ")]
    if spec.type == "percentage":
        words.append("in percent")
    if spec.optional:
        words.append("optional")
    if spec.default is not None:
        words.append(f"default {spec.default}")
    if spec.min is not None:
        words.append(f">= {spec.min}")
    if spec.max is not None:
        words.append(f"<= {spec.max}")
    if spec.nonzero:
        words.append("non-zero")
    return ", ".join(words)


# --- compiling a definition -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Constraint:
    spec: ConstraintSpec
    checked: CheckedConstraint


@dataclass(frozen=True, slots=True)
class _Rule:
    spec: RuleSpec
    checked: CheckedRule


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A checked template: its payload model and compiled expressions."""

    name: str
    spec: TemplateSpec
    source: TemplateSource
    payload_model: type[TemplatePayload]
    rules: tuple[_Rule, ...]
    constraints: tuple[_Constraint, ...]

    # -- per payload --

    def env(self, payload: TemplatePayload, lots: Sequence[int]) -> Env:
        """The names' values for one payload (lots: each position's resolved lot size)."""
        params: dict[str, Fraction | frozenset[str] | None] = {}
        for name, spec in self.spec.parameters.items():
            params[name] = _value(spec, getattr(payload, name))
        positions: list[dict[str, Fraction | str]] = []
        for position, lot in zip(payload.positions, lots, strict=True):
            values: dict[str, Fraction | str] = {
                "price": Fraction(position.price),
                "max_qty": Fraction(position.qty),
                "lot_size": Fraction(lot),
                "sign": Fraction(position.side.sign),
                "symbol": position.symbol,
            }
            for name, spec in self.spec.position_fields.items():
                value = _value(spec, getattr(position, name))
                assert isinstance(value, Fraction)  # position fields are numbers
                values[name] = value
            positions.append(values)
        return Env(params, positions)

    def applies(self, payload: TemplatePayload, when: Sequence[str]) -> bool:
        return all(getattr(payload, name) is not None for name in when)

    def rule_failures(self, payload: TemplatePayload, lots: Sequence[int]) -> list[str]:
        """The messages of every rule the payload breaks (duplicate legs first)."""
        problems = duplicate_issues(payload.positions)
        if problems:
            return problems
        env = self.env(payload, lots)
        for rule in self.rules:
            if not self.applies(payload, rule.spec.when):
                continue
            try:
                holds = rule.checked.holds(env)
            except ExprError as exc:
                problems.append(f"rule {rule.spec.rule!r}: {exc}")
                continue
            if not holds:
                problems.append(rule.spec.message)
        return problems

    def describe(self, spec: ConstraintSpec, payload: TemplatePayload) -> str:
        """The constraint's description with ``{parameter}`` replaced by the payload's value."""
        if spec.description is None:
            return spec.expr.strip()

        def replace(match: re.Match[str]) -> str:
            value = getattr(payload, match.group(1))
            return ", ".join(value) if isinstance(value, tuple) else str(value)

        return _PLACEHOLDER.sub(replace, spec.description)

    def constraints_for(
        self, payload: TemplatePayload, legs: Sequence[Leg], *, strategy: str
    ) -> tuple[Constraint, ...]:
        """The bundle's constraints for one payload, in declaration order."""
        env = self.env(payload, [leg.lot_size for leg in legs])
        built: list[Constraint] = []
        for item in self.constraints:
            if not self.applies(payload, item.spec.when):
                continue
            try:
                rows = item.checked.rows(env)
            except ExprError as exc:
                _payload_error(strategy, f"constraint {item.spec.name}: {exc}")
            description = self.describe(item.spec, payload)
            for row in rows:
                built.append(_constraint(item.spec.name, row, description, strategy))
        return tuple(built)


def _value(spec: FieldSpec, value: Any) -> Fraction | frozenset[str] | None:
    if value is None:
        return None
    if spec.type == "symbol_list":
        return frozenset(value)
    number = Fraction(value)
    return number / 100 if spec.type == "percentage" else number


def _payload_error(strategy: str, reason: str) -> NoReturn:
    raise PayloadError(
        f"invalid {strategy} payload",
        strategy=strategy,
        issues=[FieldIssue("bidder_data", reason)],
    )


def _constraint(name: str, row: Row, description: str, strategy: str) -> Constraint:
    """A :class:`Constraint` from an exact row: Decimal coefficients as they are, or, when
    some value has no finite decimal expansion (a division by 3), the row times the
    least common denominator, which is the same constraint."""
    full_name = f"{name}_{row.suffix}" if row.suffix else name
    values = [*row.coefficients, row.rhs]
    if any(
        max(abs(v.numerator).bit_length(), v.denominator.bit_length()) > _MAX_BITS for v in values
    ):
        _payload_error(
            strategy, f"constraint {full_name}: a coefficient is too large to solve exactly"
        )
    if not row.sense.holds(Fraction(0), row.rhs):
        _payload_error(
            strategy,
            f"constraint {full_name} excludes the empty fill (0 {row.sense.value} "
            f"{row.rhs}): a bundle's constraints must allow not trading at all; "
            "bound totals from above, not below",
        )
    decimals = [decimal_or_none(v) for v in values]
    if any(d is None for d in decimals):
        scale = math.lcm(*(v.denominator for v in values))
        decimals = [Decimal(int(v * scale)) for v in values]
    *coefficients, rhs = (d for d in decimals if d is not None)
    if row.expansion:
        description = f"{description} [{row.expansion}]"
    return Constraint(
        name=full_name,
        coefficients=tuple(coefficients),
        sense=row.sense,
        rhs=rhs,
        description=description,
    )


class _Compiler:
    """Checks one definition; every error is a :class:`TemplateError` with its line."""

    def __init__(self, name: str, definition: Mapping[str, Any], source: TemplateSource) -> None:
        self.name = name
        self.definition = definition
        self.source = source

    def fail(
        self, message: str, path: Sequence[str | int] = (), column: int | None = None
    ) -> NoReturn:
        raise TemplateError(
            message,
            template=self.name,
            file=self.source.file,
            line=self.source.line(path),
            where=_render_path(path),
            column=column,
        )

    def compile(self) -> CompiledTemplate:
        try:
            spec = TemplateSpec.model_validate(dict(self.definition))
        except ValidationError as exc:
            # An unknown key first: a misspelt key is also reported missing.
            errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != _UNKNOWN)
            first, *rest = errors
            message = _pydantic_message(first, with_path=False)
            meant = misspelt_key(first, errors, TemplateSpec)
            if meant:
                message += f" (did you mean {meant!r}?)"
                rest = [e for e in rest if e["loc"] != (*first["loc"][:-1], meant)]
            if rest:
                message += f" (and {len(rest)} more problem{'s' if len(rest) > 1 else ''})"
            self.fail(message, first["loc"])
        names = self._names(spec)
        model = self._payload_model(spec)
        rules = tuple(self._rule(spec, i, names) for i in range(len(spec.require)))
        constraints = tuple(self._constraint(spec, i, names) for i in range(len(spec.constraints)))
        seen: dict[str, int] = {}
        for index, item in enumerate(constraints):
            for suffix in item.checked.row_suffixes:
                row = f"{item.spec.name}_{suffix}" if suffix else item.spec.name
                if row in seen:
                    self.fail(
                        f"constraint name {row!r} is used twice (also by "
                        f"constraints[{seen[row]}]; abs() rows add _upper/_lower)",
                        ("constraints", index, "name"),
                    )
                seen[row] = index
        return CompiledTemplate(self.name, spec, self.source, model, rules, constraints)

    def _names(self, spec: TemplateSpec) -> dict[str, NameInfo]:
        names: dict[str, NameInfo] = dict(BUILTIN_NAMES)
        for section, fields in (
            ("parameters", spec.parameters),
            ("position_fields", spec.position_fields),
        ):
            per_position = section == "position_fields"
            for field_name, field_spec in fields.items():
                path = (section, field_name)
                self._check_field(field_name, field_spec, path, per_position=per_position)
                if field_name in names:
                    self.fail(f"{field_name!r} is both a parameter and a position field", path)
                kind = Kind.SYMBOLS if field_spec.type == "symbol_list" else Kind.NUMBER
                names[field_name] = NameInfo(
                    kind,
                    per_position=per_position,
                    sign=_sign(field_spec),
                    optional=field_spec.optional,
                    description=field_spec.description,
                )
        return names

    def _check_field(
        self, name: str, spec: FieldSpec, path: tuple[str, str], *, per_position: bool
    ) -> None:
        if not _IDENTIFIER.match(name):
            self.fail(
                f"{name!r} is not a name: letters, digits and '_', starting with a letter", path
            )
        if name in _RESERVED:
            self.fail(f"{name!r} is reserved (a keyword, function or built-in name)", path)
        if name.startswith("model_") or hasattr(BaseModel, name):
            self.fail(f"{name!r} clashes with the payload model's own attributes", path)
        if per_position and spec.type == "symbol_list":
            self.fail("a position field is a number: integer, decimal or percentage", path)
        if per_position and spec.optional:
            self.fail("position fields cannot be optional; give a default instead", path)
        if spec.optional and spec.default is not None:
            self.fail("give 'optional' or a 'default', not both", path)
        self._check_bounds(spec, path)

    def _check_bounds(self, spec: FieldSpec, path: tuple[str, str]) -> None:
        if spec.type == "symbol_list" and (
            spec.min is not None or spec.max is not None or spec.nonzero
        ):
            self.fail("min, max and nonzero apply to numbers, not symbol lists", path)
        if spec.type == "integer":
            for bound in ("min", "max"):
                value = getattr(spec, bound)
                if value is not None and value != value.to_integral_value():
                    self.fail(f"{bound} of an integer must be a whole number", (*path, bound))
        if spec.min is not None and spec.max is not None and spec.min > spec.max:
            self.fail(f"min {spec.min} is greater than max {spec.max}", path)
        if spec.default is not None:
            try:
                TypeAdapter(_annotation(spec)).validate_python(spec.default)
            except ValidationError as exc:
                self.fail(
                    f"default: {_pydantic_message(exc.errors(include_url=False)[0])}",
                    (*path, "default"),
                )

    def _payload_model(self, spec: TemplateSpec) -> type[TemplatePayload]:
        position_fields: dict[str, Any] = {
            name: _definition(field_spec) for name, field_spec in spec.position_fields.items()
        }
        title = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", self.name))
        position_model = create_model(
            f"{title}Position", __base__=TemplatePosition, **position_fields
        )
        parameters: dict[str, Any] = {
            name: _definition(field_spec) for name, field_spec in spec.parameters.items()
        }
        positions: Any = (
            list[position_model],  # type: ignore[valid-type,unused-ignore]  # a run-time model
            Field(min_length=spec.min_positions),
        )
        return create_model(
            f"{title}Payload", __base__=TemplatePayload, positions=positions, **parameters
        )

    def _rule(self, spec: TemplateSpec, index: int, names: Mapping[str, NameInfo]) -> _Rule:
        rule = spec.require[index]
        path = ("require", index)
        when = self._when(spec, rule.when, (*path, "when"))
        try:
            checked = check_rule(rule.rule, names)
        except ExprError as exc:
            self.fail(exc.reason, (*path, "rule"), exc.column)
        self._optional_covered(checked.optional_names, when, (*path, "rule"), "rule")
        return _Rule(rule, checked)

    def _constraint(
        self, spec: TemplateSpec, index: int, names: Mapping[str, NameInfo]
    ) -> _Constraint:
        item = spec.constraints[index]
        path = ("constraints", index)
        if not _IDENTIFIER.match(item.name):
            self.fail(
                f"constraint name {item.name!r}: letters, digits and '_', starting with a letter",
                (*path, "name"),
            )
        when = self._when(spec, item.when, (*path, "when"))
        try:
            checked = check_constraint(item.expr, names)
        except ExprError as exc:
            self.fail(exc.reason, (*path, "expr"), exc.column)
        self._optional_covered(checked.optional_names, when, (*path, "expr"), "constraint")
        if item.description is not None:
            used = set(_PLACEHOLDER.findall(item.description))
            for placeholder in sorted(used):
                if placeholder not in spec.parameters:
                    self.fail(
                        f"{{{placeholder}}} in the description is not a parameter",
                        (*path, "description"),
                    )
            optional = {p for p in used if spec.parameters[p].optional}
            self._optional_covered(frozenset(optional), when, (*path, "description"), "description")
        return _Constraint(item, checked)

    def _when(
        self, spec: TemplateSpec, when: Sequence[str], path: tuple[str | int, ...]
    ) -> set[str]:
        for index, name in enumerate(when):
            parameter = spec.parameters.get(name)
            if parameter is None:
                self.fail(f"{name!r} in 'when' is not a parameter", (*path, index))
            if not parameter.optional:
                self.fail(f"{name!r} in 'when' is not optional: it is always given", (*path, index))
        return set(when)

    def _optional_covered(
        self, used: frozenset[str], when: set[str], path: tuple[str | int, ...], what: str
    ) -> None:
        missing = sorted(used - when)
        if missing:
            listed = ", ".join(missing)
            self.fail(
                f"the {what} uses optional parameter(s) {listed}: add them to its 'when' "
                "(it then applies only when they are given)",
                path,
            )


def _definition(spec: FieldSpec) -> tuple[Any, Any]:
    annotation: Any = Annotated[_annotation(spec), Field(description=spec.description or None)]
    if spec.optional:
        return (annotation | None, None)
    if spec.default is not None:
        return (annotation, TypeAdapter(_annotation(spec)).validate_python(spec.default))
    return (annotation, ...)


def _render_path(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _pydantic_message(error: Mapping[str, Any], *, with_path: bool = True) -> str:
    if error["type"] == _UNKNOWN:
        return "unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    where = _render_path(error["loc"]) if with_path else ""
    return f"{where}: {message}" if where else message


def compile_template(
    name: str, definition: Mapping[str, Any], source: TemplateSource | None = None
) -> CompiledTemplate:
    """Check a template definition completely; raises :class:`TemplateError`."""
    return _Compiler(name, definition, source or TemplateSource()).compile()


# --- the strategy --------------------------------------------------------------------


class TemplateStrategy:
    """A strategy compiled from a template; :class:`LinearTemplates` makes one
    subclass per template, with these class attributes set."""

    name: ClassVar[str]
    payload_model: ClassVar[type[BaseModel]]
    config_model: ClassVar[type[StrategyConfig]] = StrategyConfig
    template: ClassVar[CompiledTemplate]

    def build(
        self, payload: TemplatePayload, config: StrategyConfig, context: BuildContext
    ) -> OrderBundle:
        """Rules, then legs (as the built-ins make them), then the constraints."""
        lots = [
            p.lot_size or context.lot_size or config.default_lot_size for p in payload.positions
        ]
        problems = self.template.rule_failures(payload, lots)
        if problems:
            raise PayloadError(
                f"invalid {self.name} payload",
                strategy=self.name,
                issues=[FieldIssue("bidder_data", problem) for problem in problems],
            )
        legs = build_legs(self.name, payload.positions, config, context)
        constraints = self.template.constraints_for(payload, legs, strategy=self.name)
        return OrderBundle(
            bundle_id=context.bundle_id,
            legs=legs,
            constraints=constraints,
            metadata=dict(context.metadata),
        )

    def summary(self) -> list[str]:
        """The template as ``bidgw strategies`` shows it."""
        spec = self.template.spec
        lines = [spec.description.strip()] if spec.description.strip() else []
        if spec.parameters:
            lines.append("parameters:")
            lines.extend(_field_line(n, f) for n, f in spec.parameters.items())
        lines.append(
            "positions: symbol, side, qty (max), price (limit), lot_size"
            + (" and:" if spec.position_fields else "")
        )
        lines.extend(_field_line(n, f) for n, f in spec.position_fields.items())
        if spec.require:
            lines.append("rules:")
            lines.extend(
                f"  {r.rule}" + (f"   [when {', '.join(r.when)}]" if r.when else "")
                for r in spec.require
            )
        lines.append("constraints:")
        lines.extend(
            f"  {c.name}: {c.expr.strip()}" + (f"   [when {', '.join(c.when)}]" if c.when else "")
            for c in spec.constraints
        )
        return lines


def _field_line(name: str, spec: FieldSpec) -> str:
    text = f"  {name}  ({_kind_text(spec)})"
    return f"{text}  {spec.description}" if spec.description else text


class LinearTemplates:
    """The template engine: entry point ``linear`` in the ``bidgw.templates`` group."""

    def compile(
        self, name: str, definition: Mapping[str, Any], source: TemplateSource
    ) -> TemplateStrategy:
        template = compile_template(name, definition, source)
        strategy_class = type(
            f"Template_{re.sub(r'[^A-Za-z0-9_]', '_', name)}",
            (TemplateStrategy,),
            {"name": name, "payload_model": template.payload_model, "template": template},
        )
        return cast(TemplateStrategy, strategy_class())
