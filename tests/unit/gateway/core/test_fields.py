"""Validation errors as field issues: paths, and the key a misspelt one meant."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from gateway.core.fields import FrozenModel, field_issues
from gateway.core.plugins import BidderPayload, StrategiesFile


class Position(FrozenModel):
    symbol: str
    qty: int
    lot_size: int | None = None


class Book(FrozenModel):
    positions: list[Position]
    by_name: dict[str, Position] = Field(default_factory=dict)
    horizon: int = 1


def issues_of(model: type[FrozenModel], data: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [str(issue) for issue in field_issues(info.value, prefix="bidder_data", model=model)]


def test_a_misspelt_required_key_names_the_key_meant():
    assert issues_of(Book, {"positions": [{"symbol": "A", "qtty": 1}]}) == [
        "bidder_data.positions[0].qty: Field required",
        "bidder_data.positions[0].qtty: unknown field (did you mean 'qty'?)",
    ]


def test_a_misspelt_optional_key_is_found_through_lists_and_mappings():
    assert issues_of(Book, {"positions": [], "horizn": 2}) == [
        "bidder_data.horizn: unknown field (did you mean 'horizon'?)"
    ]
    assert issues_of(Book, {"positions": [{"symbol": "A", "qty": 1, "lotsize": 5}]}) == [
        "bidder_data.positions[0].lotsize: unknown field (did you mean 'lot_size'?)"
    ]
    assert issues_of(
        Book, {"positions": [], "by_name": {"x": {"symbol": "A", "qty": 1, "lotsize": 1}}}
    ) == ["bidder_data.by_name.x.lotsize: unknown field (did you mean 'lot_size'?)"]


def test_a_key_like_none_is_only_unknown():
    assert issues_of(Book, {"positions": [], "surprise": 1}) == [
        "bidder_data.surprise: unknown field"
    ]
    # Without the model, only the missing keys beside it are candidates.
    with pytest.raises(ValidationError) as info:
        Book.model_validate({"positions": [], "horizn": 2})
    assert [str(i) for i in field_issues(info.value)] == ["horizn: unknown field"]


def test_the_envelope_and_the_strategies_file_suggest_too():
    with pytest.raises(ValidationError) as info:
        BidderPayload.model_validate({"strategy": "pairs", "bidder_datta": {}})
    assert "bidder_datta: unknown field (did you mean 'bidder_data'?)" in [
        str(i) for i in field_issues(info.value, model=BidderPayload)
    ]
    with pytest.raises(ValidationError) as info:
        StrategiesFile.model_validate({"strategies": {"pairs": {"enabeld": False}}})
    assert [str(i) for i in field_issues(info.value, model=StrategiesFile)] == [
        "strategies.pairs.enabeld: unknown field (did you mean 'enabled'?)"
    ]
