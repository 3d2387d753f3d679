"""The clearing MILP of one auction, or of one independent part of it.

:class:`Model` writes what both formulations share into a
:class:`~gateway.venue.auction.matrix.Matrix`: a column per order (its lots),
the objective, a balance row per symbol (bought = sold), self-trade prevention
(a binary per owner and symbol where the owner has orders on both sides), each
bundle's constraint rows and minimum fill, and the price-constraint system
(:mod:`gateway.venue.auction.prices`). The subclasses decide which orders may
fill at the symbols' clearing prices:

* :class:`LadderModel` (``formulation="ladder"``, the default) has no price
  variable: per symbol, one binary per price threshold that separates a buy from
  a sell it conflicts with (:mod:`gateway.venue.auction.ladder`, exact both
  ways); its objective measures each limit from the symbol's mid (the same value
  for every balanced fill, with coefficients of the size of the spread);
* :class:`BigMModel` (``formulation="big_m"``, the model before issue 15) keeps
  one continuous price per symbol, tied to an order's fill by a binary and big-M
  rows when its limit lies inside the spread.

In both, an order whose limit is through the far side can fill at any price and
one outside the spread never fills (it is not in the model), and a symbol that a
price constraint names gets an integer price on the grid instead
(:meth:`Model._grid_link`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

from gateway.core.bundle import Sense, Side
from gateway.solver.milp import INTEGRALITY_TOL
from gateway.venue.auction.ladder import price_ladder
from gateway.venue.auction.matrix import INF, Matrix
from gateway.venue.auction.orders import Entry, Order, Spreads, Units
from gateway.venue.auction.prices import BoxRow, PriceRow, integer_point, on_box

__all__ = ["BigMModel", "LadderModel", "Model"]


class Model(abc.ABC):
    """The clearing MILP over admitted bundles and contra orders (one auction, or one
    independent part of it), written into a :class:`Matrix`; the price rules are
    the subclass's.

    Price constraints: each symbol a bundle's price constraint names gets an integer
    price variable ``u_s`` (``price_cols``), its price's offset from the low end of its
    interval on the price grid (:class:`BoxRow`), which the formulation ties to the
    symbol's fills; each such bundle a fill indicator and copies of those variables
    that equal them while it fills (:meth:`_price_system`). ``binding`` are price rows
    that hold whatever fills (an earlier batch's filled bundles')."""

    def __init__(
        self,
        entries: Sequence[Entry],
        contra: Sequence[Order],
        spreads: Spreads,
        units: Units,
        binding: Sequence[PriceRow] = (),
    ) -> None:
        self.entries = entries
        self.spreads = spreads
        self.refs = spreads.refs
        self.units = units
        self.binding = binding
        self.orders = [o for e in entries for o in e.legs.values()] + list(contra)
        self.matrix = Matrix()
        self.price_cols: dict[str, int] = {}  # symbol -> its price variable's column
        self.box: dict[str, tuple[int, int]] = {}  # symbol -> (low end, width) in grid steps
        # entry index -> its price rows that bind on some grid prices only, or None when
        # they hold at no grid prices of the box (it cannot fill here)
        self.systems: dict[int, tuple[BoxRow, ...] | None] = {}

    def build(self) -> None:
        matrix = self.matrix
        for order in self.orders:
            order.col = matrix.column(order.max_lots)
        self._objective()
        by_symbol: dict[str, list[Order]] = {}
        for order in self.orders:
            by_symbol.setdefault(order.symbol, []).append(order)
        for symbol in sorted(by_symbol):
            matrix.row(
                ((o.col, o.lot if o.side is Side.BUY else -o.lot) for o in by_symbol[symbol]),
                0.0,
                0.0,
            )
        binding = self._price_columns()
        self._prices(by_symbol)
        self._self_trade(by_symbol)
        for index, entry in enumerate(self.entries):
            self._bundle_rows(index, entry)
        for row in binding:
            matrix.row(
                [
                    (self.price_cols[s], a)
                    for s, a in zip(row.symbols, row.coefficients, strict=True)
                ],
                -INF if row.lower is None else row.lower,
                INF if row.upper is None else row.upper,
            )

    @abc.abstractmethod
    def _prices(self, by_symbol: Mapping[str, Sequence[Order]]) -> None:
        """Which orders may fill at the symbols' clearing prices (the formulation); for a
        symbol in ``price_cols``, also ties its price variable to those fills."""

    def _steps(self, symbol: str) -> tuple[int, int]:
        """The symbol's price interval on the price grid: its low end and its width, in
        whole steps (both ends are on the grid: see :class:`Units`)."""
        found = self.box.get(symbol)
        if found is None:
            low, high = self.spreads.bounds[symbol]
            scale = self.units.prices
            found = self.box[symbol] = (int(low * scale), int((high - low) * scale))
        return found

    def _price_columns(self) -> list[BoxRow]:
        """Each bundle's price rows over the box of prices (:func:`on_box`) into
        ``systems``, and a price variable per symbol that one of them, or a binding
        row, still needs; the binding rows that need writing."""
        scale, needed = self.units.prices, set[str]()
        for index, entry in enumerate(self.entries):
            if not entry.price_rows or not entry.legs:
                continue
            for symbol in entry.price_symbols:
                self._steps(symbol)
            rows = [on_box(row, scale, self.box) for row in entry.price_rows]
            if any(row.holds == "never" for row in rows):
                self.systems[index] = None
                continue
            some = tuple(row for row in rows if row.holds == "some")
            if not some:
                continue  # they hold at every price the box allows
            # One inequality holds at a corner of the box; an equality over one price at
            # a grid point (its coefficient is ±1). Otherwise, look for a point.
            decided = len(some) == 1 and (
                some[0].lower != some[0].upper or len(some[0].symbols) == 1
            )
            sizes = tuple(sorted({(s, self.box[s][1]) for row in some for s in row.symbols}))
            if not decided and not integer_point(some, sizes):
                self.systems[index] = None
                continue
            self.systems[index] = some
            needed.update(s for row in some for s in row.symbols)
        binding: list[BoxRow] = []
        for price_row in self.binding:
            for symbol in price_row.symbols:
                self._steps(symbol)
            row = on_box(price_row, scale, self.box)
            # "never" only if an earlier batch's prices failed exactness; left out, the
            # union's exact verification then decides.
            if row.holds == "some":
                binding.append(row)
                needed.update(row.symbols)
        for symbol in sorted(needed):
            self.price_cols[symbol] = self.matrix.column(self.box[symbol][1])
        return binding

    def witness(self, values: Sequence[float] | Mapping[int, float | None]) -> dict[str, Fraction]:
        """The solver's prices of the symbols in ``price_cols``, from the solution's
        column ``values``: each on the grid, or none at all if one is not within
        :data:`~gateway.solver.milp.INTEGRALITY_TOL` of a whole step."""
        prices: dict[str, Fraction] = {}
        for symbol, column in self.price_cols.items():
            value = values[column]
            if value is None or not math.isfinite(value):
                return {}
            steps = round(value)
            if abs(value - steps) > INTEGRALITY_TOL:
                return {}
            prices[symbol] = Fraction(self.box[symbol][0] + steps, self.units.prices)
        return prices

    def _grid_link(self, order: Order) -> None:
        """An inside order of a symbol with a price variable ``u`` (the price's offset in
        grid steps, in ``[0, width]``): a binary ``z`` lets it fill (``n ≤ max_lots·z``),
        and then the price must be on its side of its limit, at offset ``l``: a buy
        ``u ≤ l + (width − l)·(1 − z)``, a sell ``u ≥ l·z``. Whole numbers up to the
        width, in both formulations."""
        matrix = self.matrix
        low, width = self._steps(order.symbol)
        limit = int(order.limit * self.units.prices) - low
        price = self.price_cols[order.symbol]
        z = matrix.column(1)
        matrix.row([(order.col, 1), (z, -order.max_lots)], -INF, 0.0)
        if order.side is Side.BUY:
            matrix.row([(price, 1), (z, width - limit)], -INF, width)
        else:
            matrix.row([(price, 1), (z, -limit)], 0.0, INF)

    def _objective(self) -> None:
        """Improvement Σ_buys limit·q − Σ_sells limit·q in integer units of the
        auction's grid, plus tie-breaks (:meth:`Units.cost`)."""
        shift = self._shifts()
        cost = self.matrix.cost
        for order in self.orders:
            cost[order.col] = self.units.cost(order, shift.get(order.symbol, 0))

    def _shifts(self) -> Mapping[str, int]:
        """A whole number of grid units per symbol subtracted from each of its orders'
        limits in the objective (none here)."""
        return {}

    def _self_trade(self, by_symbol: Mapping[str, Sequence[Order]]) -> None:
        """Self-trade prevention: on a symbol that has it, the orders of one owner fill
        on one side only. A binary ``z`` per owner with orders on both sides: its buys
        may fill while ``z = 1`` (``q ≤ cap · z``), its sells while ``z = 0``
        (``q ≤ cap · (1 − z)``)."""
        matrix = self.matrix
        for symbol in sorted(by_symbol):
            if not self.refs[symbol].self_trade_prevention:
                continue
            sides: dict[str, tuple[list[Order], list[Order]]] = {}
            for order in by_symbol[symbol]:
                if order.owner:
                    sides.setdefault(order.owner, ([], []))[order.side is Side.SELL].append(order)
            for owner in sorted(sides):
                buys, sells = sides[owner]
                if not (buys and sells):
                    continue
                z = matrix.column(1)
                for order in buys:
                    matrix.row([(order.col, 1), (z, -order.max_lots)], -INF, 0.0)
                for order in sells:
                    matrix.row([(order.col, 1), (z, order.max_lots)], -INF, order.max_lots)

    def _bundle_rows(self, index: int, entry: Entry) -> None:
        # The same integer rows over lot counts as the pre-solver's; a leg with no
        # order in this auction (nothing left, or no reference market) fills 0, and a
        # row left with no term holds (the empty fill satisfies every admitted row).
        bundle, legs = entry.participant.bundle, entry.legs
        matrix = self.matrix
        system = self.systems.get(index, ())
        if system is None:
            # Its price constraints hold at no grid prices within the box: no fill here.
            for order in legs.values():
                matrix.upper[order.col] = 0.0
            return
        for row in entry.rows:
            terms = [(legs[i].col, a) for i, a in enumerate(row.coefficients) if a and i in legs]
            if not terms:
                continue
            rhs = float(row.rhs)
            if row.sense is Sense.LE:
                matrix.row(terms, -INF, rhs)
            elif row.sense is Sense.GE:
                matrix.row(terms, rhs, INF)
            else:
                matrix.row(terms, rhs, rhs)
        w = None
        if bundle.min_total_fill and legs:
            # A non-empty fill must reach the minimum: w = 1 if the bundle trades.
            w = matrix.column(1)
            total = [(o.col, o.lot) for o in legs.values()]
            cap = sum(o.max_lots * o.lot for o in legs.values())
            matrix.row([*total, (w, -cap)], -INF, 0.0)
            matrix.row([*total, (w, -bundle.min_total_fill)], 0.0, INF)
        if system:
            self._price_system(legs, system, w)

    def _price_system(
        self, legs: Mapping[int, Order], system: Sequence[BoxRow], w: int | None
    ) -> None:
        """A bundle's price rows, binding while it fills. Its fill indicator ``y`` (the
        minimum fill's ``w`` when it has one: ``w = 0`` leaves no lot) with ``n ≤
        max_lots·y`` per order; per symbol a copy ``c_s`` of the price variable, in
        the same ``[0, width_s]``, equal to it while ``y = 1`` (``|u_s − c_s| ≤
        width_s·(1 − y)``); and the rows over the copies, unconditionally (they hold
        somewhere in the box: :meth:`_price_columns`). The rows' coefficients and the
        copies' ties stay within MAX_PRICE_ROW and MAX_PRICE_STEPS (see
        :mod:`gateway.venue.auction.admission`), so what the solver's tolerances allow
        rounds to an exact answer."""
        matrix = self.matrix
        y = w
        if y is None:
            y = matrix.column(1)
            for order in legs.values():
                matrix.row([(order.col, 1), (y, -order.max_lots)], -INF, 0.0)
        copies: dict[str, int] = {}
        for symbol in sorted({s for row in system for s in row.symbols}):
            width = self.box[symbol][1]
            copy = copies[symbol] = matrix.column(width)
            if width:
                price = self.price_cols[symbol]
                matrix.row([(price, 1), (copy, -1), (y, width)], -INF, width)
                matrix.row([(copy, 1), (price, -1), (y, width)], -INF, width)
        for row in system:
            matrix.row(
                [(copies[s], a) for s, a in zip(row.symbols, row.coefficients, strict=True)],
                -INF if row.lower is None else row.lower,
                INF if row.upper is None else row.upper,
            )


class LadderModel(Model):
    """Prices as threshold binaries per symbol (:mod:`gateway.venue.auction.ladder`), and the
    objective measured from each symbol's mid."""

    def _shifts(self) -> Mapping[str, int]:
        """The mid of each symbol on the grid (rounded down): by the balance rows
        ``Σ_buys lot·n = Σ_sells lot·n``, subtracting the same amount from every
        limit of a symbol changes the objective of every feasible fill by exactly 0,
        and leaves coefficients of the size of the spread instead of the price
        (HiGHS warned of "excessively large costs" at ~10^6)."""
        return {s: self.units.mid(self.refs[s]) for s in {o.symbol for o in self.orders}}

    def _prices(self, by_symbol: Mapping[str, Sequence[Order]]) -> None:
        """Per symbol, its :func:`~gateway.venue.auction.ladder.price_ladder`; a symbol with a
        price variable (one a price constraint names) has its inside orders tied to it
        instead (:meth:`~Model._grid_link`): the ladder says only which fills some
        price allows, a price constraint needs the price itself."""
        matrix = self.matrix
        for symbol in sorted(by_symbol):
            orders = by_symbol[symbol]
            if symbol in self.price_cols:
                for order in orders:
                    if self.spreads.eligible(order) == "inside":
                        self._grid_link(order)
                continue
            bid, offer = self.spreads.bounds[symbol]
            ladder = price_ladder([(o.side, o.limit) for o in orders], bid, offer)
            steps = [matrix.column(1) for _ in ladder.thresholds]
            for k in range(1, len(steps)):
                matrix.row([(steps[k], 1), (steps[k - 1], -1)], -INF, 0.0)
            for order, link in zip(orders, ladder.links, strict=True):
                if link is None:
                    continue
                step = steps[link.step]
                if link.when_reached:  # a sell: q <= cap * v
                    matrix.row([(order.col, 1), (step, -order.max_lots)], -INF, 0.0)
                else:  # a buy: q <= cap * (1 - v)
                    matrix.row([(order.col, 1), (step, order.max_lots)], -INF, order.max_lots)


class BigMModel(Model):
    """The model before issue 15: a continuous price per symbol and, per order inside
    the spread, a binary and two big-M rows. A symbol with a price variable (one a
    price constraint names) has it instead, in whole steps of the price grid, with
    big-M rows of whole numbers (:meth:`_grid_link`)."""

    def _prices(self, by_symbol: Mapping[str, Sequence[Order]]) -> None:
        # Within the same interval as the big-M rows below (spreads.bounds: the
        # references, narrowed in a batch; big_m never runs in batches today).
        prices = {
            s: self.matrix.column(
                float(self.spreads.bounds[s][1]),
                lower=float(self.spreads.bounds[s][0]),
                integer=False,
            )
            for s in sorted(by_symbol)
            if s not in self.price_cols
        }
        for order in self.orders:
            if self.spreads.eligible(order) == "inside":
                if order.symbol in self.price_cols:
                    self._grid_link(order)
                else:
                    self._price_link(order, prices[order.symbol])

    def _price_link(self, order: Order, price: int) -> None:
        """z = 1 lets the order fill; then the price must be on its side of its limit."""
        matrix = self.matrix
        bid, offer = self.spreads.bounds[order.symbol]
        z = matrix.column(1)
        matrix.row([(order.col, 1), (z, -order.max_lots)], -INF, 0.0)
        spread = float(offer - bid)
        if order.side is Side.BUY:
            matrix.row([(price, 1), (z, spread)], -INF, float(order.limit) + spread)
        else:
            matrix.row([(price, 1), (z, -spread)], float(order.limit) - spread, INF)
