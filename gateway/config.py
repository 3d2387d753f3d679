"""The gateway's YAML configuration, validated by pydantic.

Errors name the file, the key path and what is wrong, e.g.::

    config/gateway.yaml: invalid configuration: presolve.time_limit_ms: Input should be
    greater than 0

Paths inside a config file (``strategies_file``) are relative to that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from gateway.errors import ConfigError
from gateway.fields import FrozenModel, field_issues
from gateway.plugins import StrategyRegistry
from gateway.presolve import PresolveConfig
from gateway.yamlio import load_yaml

__all__ = ["AppConfig", "load_config"]


class AppConfig(FrozenModel):
    """Top-level gateway configuration.

    Attributes:
        strategies_file: strategies YAML (enable/disable, per-strategy config,
            third-party plugins); default: every built-in with its defaults.
        presolve: pre-solver settings.
    """

    strategies_file: Path | None = None
    presolve: PresolveConfig = Field(default_factory=PresolveConfig)

    def registry(self) -> StrategyRegistry:
        """Load the configured strategies (errors name the plugin and cause)."""
        if self.strategies_file is None:
            return StrategyRegistry.from_settings()
        return StrategyRegistry.from_file(self.strategies_file)


def _resolve(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    value = raw.get("strategies_file")
    if isinstance(value, str):
        raw = {**raw, "strategies_file": (base / value).resolve()}
    return raw


def load_config(path: Path) -> AppConfig:
    """Read and validate a gateway config file."""
    raw = load_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", source=str(path))
    try:
        return AppConfig.model_validate(_resolve(raw, path.parent))
    except ValidationError as exc:
        raise ConfigError(
            "invalid configuration", source=str(path), issues=field_issues(exc)
        ) from None
