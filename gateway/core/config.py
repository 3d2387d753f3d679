"""Config loading shared by every YAML file: validated models, paths relative to the file.

Errors name the file, the key path and what is wrong, e.g.::

    config/gateway.yaml: invalid configuration: presolve.time_limit_ms: Input should be
    greater than 0
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field, ValidationError

from gateway.core.errors import ConfigError
from gateway.core.fields import FrozenModel, field_issues
from gateway.core.yamlio import load_yaml

__all__ = ["CompID", "Port", "load_model"]

_COMP_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


def _comp_id(value: str) -> str:
    if not _COMP_ID.match(value):
        raise ValueError(f"CompID must be 1-32 letters, digits or _ . -, got {value!r}")
    return value


#: A FIX CompID.
CompID = Annotated[str, AfterValidator(_comp_id)]
#: A TCP port.
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]


def _resolve(raw: dict[str, Any], base: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """Paths in a config file are relative to the file's directory (``a.b``: key b
    of the mapping under key a)."""
    resolved = dict(raw)
    for key in keys:
        head, _, rest = key.partition(".")
        value = raw.get(head)
        if rest:
            if isinstance(value, dict):
                resolved[head] = _resolve(value, base, (rest,))
        elif isinstance(value, str):
            resolved[key] = (base / value).resolve()
    return resolved


def _load_mapping(path: Path) -> dict[str, Any]:
    raw = load_yaml(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", source=str(path))
    return raw


_M = TypeVar("_M", bound=FrozenModel)


def load_model(
    path: Path, model: type[_M], path_keys: tuple[str, ...] = ("store_dir", "fix_log_dir")
) -> _M:
    """Read a YAML file into ``model``; ``path_keys`` are resolved against its folder.

    Raises:
        ConfigError: naming the file, each key path and what is wrong.
    """
    raw = _resolve(_load_mapping(path), path.parent, path_keys)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            "invalid configuration", source=str(path), issues=field_issues(exc)
        ) from None
