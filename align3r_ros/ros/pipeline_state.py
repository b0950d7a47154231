"""What the node's callbacks, its inference worker and its diagnostics timer share: the bounded
frame queue and the pipeline's counters (each behind its own lock)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Deque, Optional

from align3r_ros.messages.diagnostics import PipelineHealth
from align3r_ros.structures import EngineStats, Frame, StageTimings


class FrameQueue:
    """Thread-safe bounded FIFO of frames; ``put`` on a full queue drops the oldest frame."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 1)
        self._items: Deque[Frame] = deque()
        self._cond = threading.Condition()
        self.dropped = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, frame: Frame) -> bool:
        """Enqueue; returns True when an older frame had to be dropped."""
        with self._cond:
            dropped = len(self._items) >= self.capacity
            if dropped:
                self._items.popleft()
                self.dropped += 1
            self._items.append(frame)
            self._cond.notify()
            return dropped

    def get(self, timeout_s: float) -> Optional[Frame]:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            return self._items.popleft() if self._items else None

    def discard(self) -> int:
        """Drop every queued frame (counted as dropped); returns how many."""
        with self._cond:
            count = len(self._items)
            self._items.clear()
            self.dropped += count
            return count


@dataclass(frozen=True)
class EngineTotals:
    """Engine counters summed over the engines a node has run (each rebuild starts at 0)."""

    dropped: int = 0
    resets: int = 0
    keyframes: int = 0
    losses: int = 0
    disagreements: int = 0

    def plus(self, stats: EngineStats) -> 'EngineTotals':
        """These totals with one (running) engine's counters added."""
        return EngineTotals(self.dropped + int(stats.frames_dropped),
                            self.resets + int(stats.resets),
                            self.keyframes + int(stats.keyframes_added),
                            self.losses + int(stats.tracking_losses),
                            self.disagreements + int(stats.odometry_disagreements))


class PipelineCounters:
    """Counters shared by callbacks, worker and diagnostics timer (guarded by one lock).

    ``lost`` is the estimate of frames that never reached the node (stamp gaps, see
    :mod:`align3r_ros.ros.arrivals`); ``engine`` adds up the engines' own counters over the
    rebuilds.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = self.rejected = self.published = self.errors = self.resets = 0
        self.lost = 0
        self.engine = EngineTotals()     # the engines' own counters, rebuilds included
        self._retired = EngineTotals()   # those of the engines already replaced
        self.scale_source = ''
        self.last_error = ''
        self.last_status = ''
        self.is_metric: Optional[bool] = None
        self.residual = float('nan')
        self.dynamic_fraction = float('nan')
        self.timings = StageTimings()
        self.publish_ms = 0.0
        self._reported_drops = 0
        self._reported_errors = 0

    def record_error(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            self.last_error = message

    def record_rejection(self, message: str) -> None:
        with self.lock:
            self.rejected += 1
            self.last_error = message

    def engine_stats(self, stats: EngineStats, retire: bool = False) -> None:
        """Take the current engine's counters (``retire``: the engine is being replaced)."""
        with self.lock:
            self.engine = self._retired.plus(stats)
            if stats.frames_out:
                self.scale_source = stats.scale_source
            if stats.last_status:
                self.last_status = stats.last_status
            self.timings = stats.timings
            if retire:
                self._retired = self.engine

    def health(self, queue: FrameQueue) -> PipelineHealth:
        """A snapshot; 'recent' fields cover the time since the previous snapshot."""
        with self.lock:
            dropped = queue.dropped + self.engine.dropped
            recent_drops = dropped - self._reported_drops
            recent_error = self.errors + self.rejected > self._reported_errors
            self._reported_drops = dropped
            self._reported_errors = self.errors + self.rejected
            return PipelineHealth(
                queue_depth=len(queue), queue_capacity=queue.capacity,
                frames_received=self.received, frames_published=self.published,
                frames_dropped=dropped, frames_rejected=self.rejected,
                engine_errors=self.errors, engine_resets=self.resets + self.engine.resets,
                keyframes_added=self.engine.keyframes, tracking_losses=self.engine.losses,
                recent_drops=recent_drops, recent_error=recent_error, is_metric=self.is_metric,
                residual=self.residual, dynamic_fraction=self.dynamic_fraction,
                timings=self.timings, publish_ms=self.publish_ms,
                last_error=self.last_error, status=self.last_status,
                scale_source=self.scale_source,
                odometry_disagreements=self.engine.disagreements)
