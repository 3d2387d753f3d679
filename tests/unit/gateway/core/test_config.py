"""The shared ``fix:`` config: the session day's schedule for QuickFIX and its checks."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from gateway.core.config import FixFilesConfig


@pytest.mark.parametrize(
    ("day_start", "end"),
    [("00:00:00", "23:59:59"), ("17:00:00", "16:59:59"), ("22:00:30", "22:00:29")],
)
def test_the_day_ends_one_second_before_it_starts(day_start: str, end: str) -> None:
    assert FixFilesConfig(day_start=day_start).schedule() == {
        "StartTime": day_start,
        "EndTime": end,
    }


def test_the_default_day_starts_at_midnight_utc_and_keeps_four_logs() -> None:
    config = FixFilesConfig()
    assert config.day_start == "00:00:00"
    assert (config.log_max_mb, config.log_backups) == (256, 4)


def test_an_unquoted_yaml_time_is_refused_with_the_reason() -> None:
    raw = yaml.safe_load("day_start: 17:00:00")  # YAML 1.1: base 60, the number 61200
    with pytest.raises(ValidationError, match="in quotes"):
        FixFilesConfig.model_validate(raw)
    assert FixFilesConfig.model_validate(yaml.safe_load("day_start: '17:00:00'"))


@pytest.mark.parametrize("value", ["24:00:00", "7:00:00", "12:60:00", "12:00", ""])
def test_a_time_that_is_not_hh_mm_ss_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="HH:MM:SS"):
        FixFilesConfig(day_start=value)
