"""Compiled kernel of :mod:`gateway.venue.auction.hull` (``gateway/venue/auction/_hull.c``)."""

from typing_extensions import Buffer

VERSION: int
"""Bumped with every change of a signature; ``hull.py`` checks it on import."""

def solve(
    problems: int,
    n: int,
    m: int,
    r: Buffer,
    u: Buffer,
    g: Buffer,
    lo: Buffer,
    hi: Buffer,
    budget: int,
    /,
) -> tuple[bytes, bytes, int]:
    """Each of ``problems`` integer programs ``max r.x`` s.t. ``lo <= g.x <= hi``, ``x`` whole
    in ``[0, u]``, exactly; the data as native float64 buffers (``r``, ``u``: problems x n;
    ``g``: problems x m x n; ``lo``, ``hi``: problems x m), ``n <= 8``, ``m <= 4``. Returns
    the optima ``x`` (problems x n) and their values (``-inf`` where none is feasible) as
    float64 bytes, and the search nodes visited: above ``budget`` every search stopped
    there and ``x`` holds the best fills found, not proven optima. ValueError for sizes
    out of range or data it cannot take."""
