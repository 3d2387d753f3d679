"""The layering rules of docs/architecture.md, enforced on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_nothing_on_the_gateway_side_imports_the_simulated_venue() -> None:
    gateway_side = _modules("gateway/core", "gateway/solver", "gateway/fix", "gateway/router")
    gateway_side += _modules("strategies")
    assert gateway_side
    assert _offenders(gateway_side, ("gateway.venue",)) == []


def test_the_domain_core_and_the_decision_core_never_import_quickfix() -> None:
    io_free = _modules("gateway/core", "gateway/solver", "strategies") + [
        ROOT / "gateway/router" / name
        for name in ("records.py", "book.py", "decide.py", "relay.py", "pool.py")
    ]
    assert _offenders(io_free, ("quickfix", "quickfix44", "_quickfix", "gateway.fix")) == []


def test_the_decision_core_touches_no_socket_or_database() -> None:
    core = [ROOT / "gateway/router" / n for n in ("records.py", "book.py", "decide.py", "relay.py")]
    assert (
        _offenders(core, ("sqlite3", "socket", "gateway.router.journal", "gateway.router.service"))
        == []
    )


def test_strategies_never_touch_fix_or_the_gateway_internals() -> None:
    forbidden = ("quickfix", "gateway.fix", "gateway.router", "gateway.tools", "gateway.venue")
    assert _offenders(_modules("strategies"), forbidden) == []
