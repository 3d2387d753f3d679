"""The auction's public API (gateway/venue/auction/__init__.py), pinned: every name
the venue and the auction bench import from ``gateway.venue.auction`` is exported,
and ``__all__`` is exactly what the package makes public (httpx's
tests/test_exported_members.py)."""

from __future__ import annotations

import ast
import types

import gateway.venue.auction as auction
from tests.conftest import ROOT

#: The modules outside the package that import from it.
USERS = (
    "gateway/venue/app.py",
    "gateway/venue/screen.py",
    "gateway/venue/config.py",
    "bench/auction.py",
)


def _imported_names(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.venue.auction"
        for alias in node.names
    }


def test_every_name_the_venue_and_the_bench_import_is_exported():
    for path in USERS:
        names = _imported_names(path)
        assert names, path
        assert names <= set(auction.__all__), path


def test_all_is_exactly_the_public_names_and_each_is_listed_once():
    public = {
        name
        for name, value in vars(auction).items()
        if not name.startswith("_")
        and name != "annotations"  # from __future__
        and not isinstance(value, types.ModuleType)
    }
    assert sorted(auction.__all__) == sorted(public)


def test_clear_and_verify_are_the_functions_not_their_modules():
    assert auction.clear.__module__ == "gateway.venue.auction.clearing"
    assert auction.verify.__module__ == "gateway.venue.auction.verification"
