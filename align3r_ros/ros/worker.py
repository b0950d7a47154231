"""The one inference thread: bounded queue in, engine, publishing out.

Subscription callbacks only convert and :meth:`FrameQueue.put` (dropping the oldest frame when
full), so the executor never waits on inference. The worker survives every error: it logs
(throttled), counts, resets the engine and continues; a stamp going backwards (a bag loop)
resets it too.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, List, Optional

from align3r_ros.messages.diagnostics import PipelineHealth
from align3r_ros.structures import Frame, FrameResult

#: stamps remembered for frames the engine has not returned yet (bounds memory).
_MAX_FRAMES_IN_FLIGHT = 512


@dataclass(frozen=True)
class QueuedFrame:
    """A converted input frame and the optical frame id of its image header."""

    frame: Frame
    frame_id: str


class FrameQueue:
    """Thread-safe bounded FIFO; ``put`` on a full queue drops the oldest item."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 1)
        self._items: Deque[QueuedFrame] = deque()
        self._cond = threading.Condition()
        self.dropped = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: QueuedFrame) -> bool:
        """Enqueue; returns True when an older frame had to be dropped."""
        with self._cond:
            dropped = len(self._items) >= self.capacity
            if dropped:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()
            return dropped

    def get(self, timeout_s: float) -> Optional[QueuedFrame]:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._cond:
            self._items.clear()


class PipelineCounters:
    """Counters shared by callbacks, worker and diagnostics timer (guarded by one lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = self.rejected = self.published = self.errors = self.resets = 0
        self.last_error = ''
        self.last_status = ''
        self.is_metric: Optional[bool] = None
        self.residual = float('nan')
        self.stage_ms: tuple = ()
        self._reported_drops = 0
        self._reported_errors = 0

    def record_error(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            self.last_error = message

    def health(self, queue: FrameQueue) -> PipelineHealth:
        """A snapshot; 'recent' fields cover the time since the previous snapshot."""
        with self.lock:
            recent_drops = queue.dropped - self._reported_drops
            recent_error = self.errors + self.rejected > self._reported_errors
            self._reported_drops = queue.dropped
            self._reported_errors = self.errors + self.rejected
            return PipelineHealth(
                queue_depth=len(queue), queue_capacity=queue.capacity,
                frames_received=self.received, frames_published=self.published,
                frames_dropped=queue.dropped, frames_rejected=self.rejected,
                engine_errors=self.errors, engine_resets=self.resets,
                recent_drops=recent_drops, recent_error=recent_error, is_metric=self.is_metric,
                residual=self.residual, stage_ms=self.stage_ms, last_error=self.last_error,
                status=self.last_status)


def free_accelerator_memory() -> None:
    """Collect garbage and empty the CUDA cache when torch is loaded (never imports torch)."""
    gc.collect()
    torch = sys.modules.get('torch')
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == 'OutOfMemoryError' or 'out of memory' in str(exc).lower()


class InferenceWorker:
    """Runs ``engine.push`` on queued frames in its own thread and publishes the results.

    Args:
        engine_factory: builds a fresh engine (called at start and after every reset).
        queue: the bounded input queue.
        counters: shared counters.
        publish: called with (FrameResult, frame_id) for every result, in the worker thread.
        logger: an rclpy logger (``warning``/``error`` with ``throttle_duration_sec``).
    """

    def __init__(self, engine_factory: Callable[[], Any], queue: FrameQueue,
                 counters: PipelineCounters,
                 publish: Callable[[FrameResult, str], None], logger: Any) -> None:
        self._engine_factory = engine_factory
        self._engine = engine_factory()
        self._queue = queue
        self._counters = counters
        self._publish = publish
        self._logger = logger
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._last_stamp_ns: Optional[int] = None
        self._frame_ids: dict = {}

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name='align3r_worker', daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (the current push finishes first), drop queued frames and publish
        the frames the engine still holds (its partial clip)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._queue.clear()
        flush = getattr(self._engine, 'flush', None)
        if callable(flush):
            try:
                for result in flush():
                    self._emit(result, 0.0)
            except Exception as exc:  # noqa: BLE001 - stopping must not fail
                self._counters.record_error(f'flush failed: {exc}')

    def release(self) -> None:
        """Drop the engine (and with it the models) and free accelerator memory."""
        self._engine = None
        free_accelerator_memory()

    def _reset(self, reason: str) -> None:
        with self._counters.lock:
            self._counters.resets += 1
            self._counters.last_status = f'reset: {reason}'
        self._engine = None
        self._frame_ids.clear()
        self._last_stamp_ns = None
        self._engine = self._engine_factory()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get(timeout_s=0.1)
            if item is not None:
                self.process(item)

    def process(self, item: QueuedFrame) -> List[FrameResult]:
        """Push one frame and publish what comes out; never raises."""
        stamp_ns = item.frame.stamp_ns
        try:
            if self._last_stamp_ns is not None and stamp_ns == self._last_stamp_ns:
                self._logger.warning(f'duplicate stamp {stamp_ns} ns: frame ignored',
                                     throttle_duration_sec=5.0)
                return []
            if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
                self._logger.warning(f'stamp went back from {self._last_stamp_ns} to {stamp_ns} '
                                     'ns (bag loop?): resetting', throttle_duration_sec=5.0)
                self._reset('time jumped backwards')
            self._last_stamp_ns = stamp_ns
            self._frame_ids[stamp_ns] = item.frame_id
            while len(self._frame_ids) > _MAX_FRAMES_IN_FLIGHT:
                self._frame_ids.pop(next(iter(self._frame_ids)))
            start = time.perf_counter()
            results = self._engine.push(item.frame)
            engine_ms = (time.perf_counter() - start) * 1e3
            for result in results:
                self._emit(result, engine_ms)
            return results
        except Exception as exc:
            message = f'{type(exc).__name__}: {exc}'.splitlines()[0][:300]
            self._counters.record_error(message)
            self._logger.error(f'engine failed on frame {stamp_ns}: {message}; resetting',
                               throttle_duration_sec=5.0)
            if _is_out_of_memory(exc):
                free_accelerator_memory()
            try:
                self._reset(message)
            except Exception as reset_exc:
                self._counters.record_error(f'reset failed: {reset_exc}')
            return []

    def _emit(self, result: FrameResult, engine_ms: float) -> None:
        frame_id = self._frame_ids.pop(result.stamp_ns, '')
        for stale in [s for s in self._frame_ids if s < result.stamp_ns]:
            self._frame_ids.pop(stale)  # frames the engine dropped
        start = time.perf_counter()
        self._publish(result, frame_id)
        publish_ms = (time.perf_counter() - start) * 1e3
        stats = getattr(self._engine, 'stats', None)
        stage_ms = tuple(sorted(dict(getattr(stats, 'stage_ms', {}) or {}).items()))
        with self._counters.lock:
            self._counters.published += 1
            self._counters.is_metric = bool(result.is_metric)
            self._counters.residual = float(result.residual)
            self._counters.last_status = result.status
            self._counters.stage_ms = stage_ms + (('engine', engine_ms),
                                                  ('publish', publish_ms))
