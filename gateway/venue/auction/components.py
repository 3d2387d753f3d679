"""Independent parts of one auction.

Two participants interact only through a symbol's clearing price and its
balance (bought = sold). Bundles and contra orders that share no symbol,
directly or through others, therefore clear separately: the auction's model is
the union of their models with no row or variable in common, so the union of
their optimal fills is an optimal fill of the whole, and each part's empty fill
is valid on its own (every bundle admits the empty fill). Solving the parts one
by one keeps each MILP small, lets a part with nothing to decide (one symbol,
contra orders only) close at once, and confines a time-out to its own part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["components"]


def components(items: Sequence[Iterable[str]]) -> list[list[int]]:
    """Group items, each given by the symbols it trades, into independent parts.

    Two items are in the same part when they share a symbol, directly or through
    other items. Returns each part as the ascending indices of its items, the
    parts ordered by their first item; an item with no symbol is a part alone.
    """
    parent: dict[str, str] = {}

    def root(symbol: str) -> str:
        while parent[symbol] != symbol:
            parent[symbol] = parent[parent[symbol]]
            symbol = parent[symbol]
        return symbol

    symbols = [sorted(set(item)) for item in items]
    for own in symbols:
        for symbol in own:
            parent.setdefault(symbol, symbol)
        for symbol in own[1:]:
            a, b = root(own[0]), root(symbol)
            if a != b:
                parent[max(a, b)] = min(a, b)
    parts: dict[str, list[int]] = {}
    alone: list[list[int]] = []
    for index, own in enumerate(symbols):
        if own:
            parts.setdefault(root(own[0]), []).append(index)
        else:
            alone.append([index])
    return sorted([*parts.values(), *alone], key=lambda part: part[0])
