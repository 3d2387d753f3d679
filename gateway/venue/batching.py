"""How many bundles the venue's next auction clears in one batch.

An auction that holds no fill at ``time_limit_ms`` goes on to its first one, but
only until ``first_fill_limit_ms``
(:class:`~gateway.venue.auction.AuctionConfig`). A book whose first batch needs
longer than that to fill (a large book on a slow or busy machine: here the 1,113
bundles a 5,000-bundle book had left after four auctions needed more than 0.5 s
in one batch of 1,000) would fill nothing, and the next auction, over the same
book, nothing again: the book would starve until it changed.

So the venue adapts the auction's ``batch_bundles`` (:class:`BatchSize`): after
an auction that found no fill in its time (:func:`ran_out_of_time`) it halves it,
down to the auction's smallest batch (:data:`~gateway.venue.auction.MIN_BATCH`),
and once :data:`GROW_AFTER` auctions have filled since, it doubles it again, up to
the configured size. Fewer, larger batches trade more with each other, so the size
only shrinks for as long as it must. A book smaller than the batch size that ran
out of time is then cleared in batches too (of half the book): batches stop at
their first fill and do not trade with each other, but they fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from gateway.venue.auction import MIN_BATCH, AuctionConfig, AuctionResult

__all__ = ["GROW_AFTER", "BatchSize", "ran_out_of_time"]

#: Auctions that must fill, with none failing to fill in time, before a halved
#: batch size doubles again.
GROW_AFTER: Final = 10


def ran_out_of_time(result: AuctionResult, config: AuctionConfig) -> bool:
    """Whether ``result`` is a ``ladder`` auction (the formulation that clears in
    batches) whose bundles found no fill before its first-fill window ended: not one
    bundle filled, not proven (``no_solution``, or ``feasible`` when only the venue's
    own orders traded, among themselves), after at least ``first_fill_limit_s`` (which
    counts from later still, the end of admission). A solver error, or a refusal,
    ends sooner."""
    return (
        config.formulation == "ladder"
        and not result.bundle_fills
        and result.status in ("no_solution", "feasible")
        and result.solve_ms >= config.first_fill_limit_s * 1000
    )


@dataclass(slots=True)
class BatchSize:
    """The ``batch_bundles`` of the venue's next auction: ``configured`` at first,
    halved after an auction that found no fill in its time, doubled back once
    :data:`GROW_AFTER` auctions have filled since."""

    configured: int
    current: int = field(init=False)
    filled_since: int = 0

    def __post_init__(self) -> None:
        self.current = self.configured

    def after(self, *, timed_out: bool, filled: bool, bundles: int) -> int | None:
        """Take the outcome of an auction over ``bundles`` resting bundles: whether it
        ran out of time without a fill (:func:`ran_out_of_time`), whether it filled a
        bundle. The new size if it changed, else None."""
        if timed_out:
            self.filled_since = 0
            cleared = min(self.current, bundles)  # one batch of a smaller book: all of it
            if cleared <= MIN_BATCH:
                return None
            self.current = max(MIN_BATCH, cleared // 2)
            return self.current
        if not filled:
            return None  # nothing to fill, or a failure the batch size does not cause
        self.filled_since += 1
        if self.current >= self.configured or self.filled_since < GROW_AFTER:
            return None
        self.filled_since = 0
        self.current = min(self.configured, self.current * 2)
        return self.current
