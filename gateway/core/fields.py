"""Shared constrained types for payload and config models (pydantic v2).

Every model in the code base uses ``extra="forbid"`` and ``frozen=True``;
numbers that must be exact use :data:`ExactDecimal`, which accepts ints,
Decimals and numeric strings and refuses binary floats.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
)

from gateway.core.bundle import Side
from gateway.core.errors import FieldIssue
from gateway.core.exact import parse_decimal

__all__ = [
    "ExactDecimal",
    "Fraction01",
    "FrozenModel",
    "PositiveDecimal",
    "PositiveInt",
    "SideField",
    "Symbol",
    "TimeOfDay",
    "field_issues",
    "misspelt_key",
]

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/\-]{0,31}$")
_TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")


class FrozenModel(BaseModel):
    """Base for payload and config models: strict, immutable, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _decimal(value: Any) -> Decimal:
    return parse_decimal(value)


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value}")
    return value


def _tolerance(value: Any) -> float:
    """Solver tolerances are floats anyway: accept a float, an int or decimal text."""
    return value if isinstance(value, float) else float(parse_decimal(value))


def _side(value: Any) -> Side:
    if isinstance(value, Side):
        return value
    if not isinstance(value, str):
        raise ValueError(f"side must be Buy or Sell, got {value!r}")
    return Side.parse(value)


def _symbol(value: Any) -> str:
    if not isinstance(value, str) or not _SYMBOL.match(value):
        raise ValueError(
            f"symbol must be 1-32 characters of letters, digits and . _ / -, got {value!r}"
        )
    return value


#: An exact decimal: int, Decimal or numeric string; never a float, NaN or Inf.
ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    PlainSerializer(str, return_type=str),
]
PositiveDecimal = Annotated[ExactDecimal, AfterValidator(_positive)]
#: A fraction in [0, 1) for solver tolerances (``0.001``, ``"0.001"``).
Fraction01 = Annotated[float, BeforeValidator(_tolerance), Field(ge=0, lt=1)]
#: A strictly positive integer (booleans and floats refused), below 10**12.
PositiveInt = Annotated[int, Field(strict=True, gt=0, lt=10**12)]
#: ``Buy`` / ``Sell`` in any case.
SideField = Annotated[
    Side, BeforeValidator(_side), PlainSerializer(lambda s: s.value, return_type=str)
]
#: A ticker-like instrument symbol.
Symbol = Annotated[str, BeforeValidator(_symbol)]


def _time_of_day(value: Any) -> str:
    if not isinstance(value, str) or not _TIME_OF_DAY.match(value):
        raise ValueError(
            f"expected a time of day as 'HH:MM:SS' in quotes, got {value!r} (YAML reads "
            "an unquoted 17:00:00 as the number 61200)"
        )
    return value


#: A time of day, ``HH:MM:SS`` (24 hours).
TimeOfDay = Annotated[str, BeforeValidator(_time_of_day)]


def field_issues(
    error: ValidationError, *, prefix: str = "", model: type[BaseModel] | None = None
) -> list[FieldIssue]:
    """Turn a pydantic error into one :class:`FieldIssue` per problem.

    Paths read like ``bidder_data.positions[1].qty``.
    """
    issues: list[FieldIssue] = []
    errors = error.errors(include_url=False)
    for item in errors:
        path = prefix
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif str(part).startswith(("function-", "tagged-union")):
                continue
            else:
                path = f"{path}.{part}" if path else str(part)
        message = str(item["msg"])
        message = message.removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            meant = misspelt_key(item, errors, model)
            message = "unknown field" + (f" (did you mean {meant!r}?)" if meant else "")
        issues.append(FieldIssue(path, message))
    return issues


def misspelt_key(
    item: Mapping[str, Any],
    errors: Sequence[Mapping[str, Any]],
    model: type[BaseModel] | None = None,
) -> str | None:
    """For an unknown key (pydantic's ``extra_forbidden``), the key it most resembles
    among those missing beside it and, given the ``model`` validated, those its
    place allows: ``constraintz`` is ``constraints`` misspelt."""
    if item["type"] != "extra_forbidden" or not item["loc"]:
        return None
    *parent, key = item["loc"]
    known = [
        str(other["loc"][-1])
        for other in errors
        if other["type"] == "missing" and other["loc"] and list(other["loc"][:-1]) == parent
    ]
    known += _keys_at(model, parent)
    found = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    return found[0] if found else None


def _keys_at(model: type[BaseModel] | None, path: Sequence[str | int]) -> list[str]:
    """The keys the model nested at ``path`` in ``model`` takes ([] when not a model)."""
    keyed = False  # the part is a key of a mapping of models: the same model
    for part in path:
        if model is None:
            return []
        if isinstance(part, int) or keyed:
            keyed = False
            continue  # an item of a list or a mapping: the same model
        field = model.model_fields.get(str(part))
        model = None if field is None else _model_in(field.annotation)
        keyed = field is not None and _is_mapping(field.annotation)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _is_mapping(annotation: Any) -> bool:
    """``dict[...]`` or ``Mapping[...]``, possibly inside ``Annotated`` or ``| None``."""
    origin = get_origin(annotation)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return True
    return any(_is_mapping(argument) for argument in get_args(annotation))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds: itself, or inside ``list[...]``, ``... | None``,
    ``Annotated[...]``, ``dict[str, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
