"""Approximate-time pairing of two streams by stamp (no ROS imports; unit-testable).

Used for ``input.camera_info: sync`` (image with CameraInfo) and for the ``prior/depth`` topic
(image with an external depth prior). Both sides are bounded, so memory stays bounded however
the streams misbehave.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Deque, List, Optional, Tuple


class StampPairing:
    """Pairs each primary item with the nearest secondary item within ``slop_ns``.

    A secondary is used at most once. Primaries that can no longer be matched (a newer
    secondary passed them, or the pending bound was exceeded) are counted in ``unmatched``.
    """

    def __init__(self, slop_ns: int, capacity: int = 8) -> None:
        self.slop_ns = int(slop_ns)
        self._primaries: Deque[Tuple[int, Any]] = deque()
        self._secondaries: Deque[Tuple[int, Any]] = deque(maxlen=max(int(capacity), 1))
        self._capacity = max(int(capacity), 1)
        self.unmatched = 0

    def clear(self) -> None:
        self._primaries.clear()
        self._secondaries.clear()

    def _take_secondary(self, stamp_ns: int) -> Optional[Any]:
        best = None
        for index, (stamp, _) in enumerate(self._secondaries):
            gap = abs(stamp - stamp_ns)
            if gap <= self.slop_ns and (best is None or gap < best[0]):
                best = (gap, index)
        if best is None:
            return None
        item = self._secondaries[best[1]][1]
        del self._secondaries[best[1]]
        return item

    def add_primary(self, stamp_ns: int, item: Any) -> List[Tuple[Any, Any]]:
        """Returns [(item, secondary)] when a secondary matches, else [] (item kept pending)."""
        secondary = self._take_secondary(stamp_ns)
        if secondary is not None:
            return [(item, secondary)]
        self._primaries.append((stamp_ns, item))
        while len(self._primaries) > self._capacity:
            self._primaries.popleft()
            self.unmatched += 1
        return []

    def add_secondary(self, stamp_ns: int, item: Any) -> List[Tuple[Any, Any]]:
        """Returns [(primary, item)] when a pending primary matches, else []."""
        best = None
        for index, (stamp, _) in enumerate(self._primaries):
            gap = abs(stamp - stamp_ns)
            if gap <= self.slop_ns and (best is None or gap < best[0]):
                best = (gap, index)
        # primaries older than this secondary minus the slop can never match any more
        stale = [i for i, (stamp, _) in enumerate(self._primaries)
                 if stamp < stamp_ns - self.slop_ns and (best is None or i != best[1])]
        matched = []
        if best is not None:
            matched = [(self._primaries[best[1]][1], item)]
        keep = [entry for i, entry in enumerate(self._primaries)
                if i not in stale and (best is None or i != best[1])]
        self.unmatched += len(stale)
        self._primaries = deque(keep)
        if not matched:
            self._secondaries.append((stamp_ns, item))
        return matched
