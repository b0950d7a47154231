"""Frames that never reached the node, estimated from the gaps between image stamps.

No ROS imports (unit-testable). The camera's frame period is estimated as a low quantile of the
recent positive stamp gaps (robust to a few long gaps, which are what is being counted); a gap
of ``g`` then hides ``round(g / period) - 1`` frames. Stamps that repeat or go backwards (a bag
loop, a restarted driver) restart the estimate instead of counting. It is an estimate: a camera
whose rate changes, or which drops most frames, is counted approximately.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Optional

import numpy as np

#: gaps (ns) remembered for the period estimate, and the quantile taken of them.
_WINDOW = 64
_QUANTILE = 0.2
#: gaps below this many periods are jitter, not a lost frame.
_MIN_GAP_PERIODS = 1.5


class ArrivalGaps:
    """Counts frames missing between consecutive image stamps (integer nanoseconds)."""

    def __init__(self) -> None:
        self._gaps: Deque[int] = deque(maxlen=_WINDOW)
        self._last: Optional[int] = None
        self.lost = 0

    def period_ns(self) -> Optional[float]:
        """The estimated frame period (ns); None before three gaps were seen."""
        if len(self._gaps) < 3:
            return None
        return float(np.quantile(np.asarray(self._gaps, dtype=np.float64), _QUANTILE))

    def add(self, stamp_ns: int) -> int:
        """Record an arrival; returns the frames estimated lost just before it."""
        stamp_ns = int(stamp_ns)
        last, self._last = self._last, stamp_ns
        if last is None:
            return 0
        gap = stamp_ns - last
        if gap <= 0:
            self._gaps.clear()  # a loop or restart: the old rate says nothing about the new one
            return 0
        period = self.period_ns()
        self._gaps.append(gap)
        if period is None or period <= 0 or gap < _MIN_GAP_PERIODS * period:
            return 0
        missing = int(round(gap / period)) - 1
        self.lost += missing
        return missing
