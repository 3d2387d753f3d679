"""YAML loading that keeps numbers exact and refuses ambiguous documents.

* Scalars YAML would read as floats (``10.50``, ``1e3``) become
  :class:`~decimal.Decimal` built from the text as written, so ``0.1`` is
  exactly one tenth. ``.inf`` / ``.nan`` become non-finite Decimals, which the
  models then reject with a clear message.
* A mapping with the same key twice is an error (PyYAML silently keeps the
  last one).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from gateway.core.errors import ConfigError

__all__ = ["load_yaml", "loads_yaml"]


class _ExactLoader(yaml.SafeLoader):
    """SafeLoader with Decimal floats and duplicate-key detection."""


def _construct_decimal(loader: _ExactLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "").strip()
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return Decimal("Infinity")
    if lowered == "-.inf":
        return Decimal("-Infinity")
    if lowered == ".nan":
        return Decimal("NaN")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read {text!r} as a number", node.start_mark
        ) from None


_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")


def _construct_int(loader: _ExactLoader, node: yaml.ScalarNode) -> int:
    """A whole number as written in decimal. YAML 1.1 reads ``010`` as octal 8,
    ``0x3E8`` as 1000 and ``1:30`` as 90: a quantity or coefficient written so is
    refused instead of silently read as another number."""
    text = str(loader.construct_scalar(node)).strip()
    if not _PLAIN_INT.fullmatch(text):
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"cannot read {text!r} as a number: write whole numbers in plain decimal "
            "(YAML would read a leading 0 as octal, 0x as hexadecimal and a:b as base 60)",
            node.start_mark,
        )
    return int(text.replace("_", ""))


def _construct_mapping(loader: _ExactLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_ExactLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_ExactLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def loads_yaml(text: str, *, source: str = "<string>") -> Any:
    """Parse one YAML document; errors are :class:`ConfigError` naming ``source``."""
    try:
        return yaml.load(text, Loader=_ExactLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", source=source) from None


def load_yaml(path: Path) -> Any:
    """Read and parse a YAML file; a missing file is a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", source=str(path)) from None
    return loads_yaml(text, source=str(path))
