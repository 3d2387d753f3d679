"""Compiled kernels of :mod:`strategies.lattice` (``strategies/_lattice.c``).

Each is a line-for-line port of its Python reference in ``lattice.py``, with the
same double-precision arithmetic. They return None where C's doubles and int64
cannot follow the Python (then the caller runs the Python); a size that does not
fit raises ValueError.
"""

from collections.abc import Sequence

VERSION: int
"""Bumped with every change of a signature; ``lattice.py`` checks it on import."""

def reduce(
    cols: Sequence[Sequence[float]], delta: float, size_reduce_above: float, max_steps: int, /
) -> tuple[list[list[float]], list[list[int]], list[list[float]]] | None:
    """LLL of an upper-triangular R given by its columns down to the diagonal (``_lll_columns``),
    then size reduction (``_size_reduce``) when some ``|R[j, k] / R[j, j]|`` is above
    ``size_reduce_above``: the reduced columns, the columns of U and ``R / diag(R)`` by
    rows (``_mu_rows``). None on int64 overflow, a value that is not finite, or more
    than ``max_steps`` LLL steps."""

def search(
    mu: Sequence[Sequence[float]],
    rr: Sequence[float],
    zz: Sequence[float],
    start: Sequence[int] | None,
    radius: float | None,
    max_nodes: int,
    time_limit: float | None,
    pruning: Sequence[float] | None = None,
    /,
) -> tuple[list[int], float, int, bool, float] | None:
    """Schnorr–Euchner enumeration (``_enumerate``): ``(x, distance, nodes, finished,
    lower)``. ``radius`` None: just past ``start``'s distance (no limit without one);
    ``max_nodes`` ≤ 0 and ``time_limit`` None: no budget. ``pruning``: a factor in
    (0, 1] per level; a node at level k is expanded only below that factor times the
    best distance (then ``finished`` and ``lower`` prove nothing). None when a centre
    passes 2⁵¹ or a value is not finite. Releases the GIL; runs Python's signal
    handlers every 65,536 nodes (an exception they raise is raised here)."""
