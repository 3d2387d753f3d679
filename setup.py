"""Builds the compiled kernels (everything else is in pyproject.toml).

``strategies/_lattice.c`` is plain C99 over the CPython C API. Its results must
be those of the Python reference in ``strategies/lattice.py`` to the last bit,
so compilers that would fuse ``a * b + c`` into one rounding are told not to.

``gateway/venue/auction/_hull.c`` solves a bundle's own integer program exactly
(the auction's primal heuristic, ``gateway/venue/auction/hull.py``).
"""

import sys

from setuptools import Extension, setup

# MSVC does not contract multiply-adds unless asked (/fp:contract); GCC and Clang do.
FLAGS = [] if sys.platform == "win32" else ["-std=c99", "-ffp-contract=off"]

setup(
    ext_modules=[
        Extension("strategies._lattice", ["strategies/_lattice.c"], extra_compile_args=FLAGS),
        Extension(
            "gateway.venue.auction._hull",
            ["gateway/venue/auction/_hull.c"],
            extra_compile_args=FLAGS,
        ),
    ]
)
