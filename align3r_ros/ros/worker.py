"""The one inference thread: bounded queue in, engine, publishing out.

Subscription callbacks only convert and :meth:`FrameQueue.put` (dropping the oldest frame when
full), so the executor never waits on inference. The worker survives every error: it logs
(throttled), counts, rebuilds the engine and continues. The engine owns the frame policy
(duplicate stamps dropped, stamps going backwards reset its world). Each frame's image
``frame_id`` rides on ``Frame.tag`` through the engine onto its ``FrameResult.tag``.

Stopping (deactivate, shutdown, SIGINT) drains: the frames already queued are processed, then
the engine's held frames are flushed and published, so nothing received is lost silently.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import Any, Callable, List, Optional

from align3r_ros.messages.dynamic import dynamic_fraction
from align3r_ros.ros.pipeline_state import FrameQueue, PipelineCounters
from align3r_ros.structures import Frame, FrameEngine, FrameResult, KeyframePose

#: longest a stop waits for the queued frames to be processed before giving up on them
#: (they are then counted as dropped); inference of one frame takes well under a second.
DRAIN_TIMEOUT_S = 60.0


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
        engine_factory: builds a fresh engine (called at construction and after every error).
        queue: the bounded input queue.
        counters: shared counters.
        publish: called with every FrameResult (its ``tag`` is the image frame_id), in the
            worker thread (or the stopping thread for the flushed ones).
        logger: an rclpy logger (``warning``/``error`` with ``throttle_duration_sec``).
        publish_keyframes: called after each push that returned results with the engine's
            ``keyframe_poses()`` and the last result's stamp.
    """

    def __init__(self, engine_factory: Callable[[], FrameEngine], queue: FrameQueue,
                 counters: PipelineCounters, publish: Callable[[FrameResult], None],
                 logger: Any,
                 publish_keyframes: Optional[Callable[[List[KeyframePose], int], None]] = None
                 ) -> None:
        self._engine_factory = engine_factory
        self._engine: Optional[FrameEngine] = engine_factory()
        self._queue = queue
        self._counters = counters
        self._publish = publish
        self._publish_keyframes = publish_keyframes
        self._logger = logger
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        #: frames pushed through the engine so far (whatever came out)
        self.processed = 0
        #: called on each frame before its push (the odometry input); must not raise
        self.attach: Optional[Callable[[Frame], Frame]] = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name='align3r_worker', daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Process the queued frames, stop the thread, then flush and publish what the engine
        still holds. Frames still queued after ``timeout_s`` are counted as dropped."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                self._logger.error(f'inference did not drain the queue within {timeout_s:g} s')
            self._thread = None
        left = self._queue.discard()
        if left:
            self._logger.warning(f'{left} queued frame(s) dropped at stop')
        if self._engine is not None:
            try:
                for result in self._engine.flush():
                    self._emit(result)
            except Exception as exc:  # noqa: BLE001 - stopping must not fail
                self._counters.record_error(f'flush failed: {exc}')
        self._take_stats()

    def release(self) -> None:
        """Drop the engine (and with it the models) and free accelerator memory."""
        self._engine = None
        free_accelerator_memory()

    def _take_stats(self, retire: bool = False) -> None:
        if self._engine is not None:
            self._counters.engine_stats(self._engine.stats, retire)

    def _reset(self, reason: str) -> None:
        self._take_stats(retire=True)
        with self._counters.lock:
            self._counters.resets += 1
            self._counters.last_status = f'reset: {reason}'
        self._engine = None
        self._engine = self._engine_factory()

    def _run(self) -> None:
        while True:
            frame = self._queue.get(timeout_s=0.05)
            if frame is not None:
                self.process(frame)
                self.processed += 1
            elif self._stop.is_set():
                return  # stop requested and the queue is empty: drained

    def process(self, frame: Frame) -> List[FrameResult]:
        """Push one frame and publish what comes out; never raises."""
        try:
            dropped_before = self._counters.engine.dropped
            if self.attach is not None:
                frame = self.attach(frame)
            results = self._engine.push(frame)
            self._take_stats()
            if self._counters.engine.dropped > dropped_before:  # the engine's frame policy
                self._logger.warning(self._counters.last_status or 'frame dropped by the engine',
                                     throttle_duration_sec=5.0)
            for result in results:
                self._emit(result)
            if results:
                self._emit_keyframes(results[-1].stamp_ns)
            return results
        except Exception as exc:
            message = f'{type(exc).__name__}: {exc}'.splitlines()[0][:300]
            self._counters.record_error(message)
            self._logger.error(f'engine failed on frame {frame.stamp_ns}: {message}; resetting',
                               throttle_duration_sec=5.0)
            if _is_out_of_memory(exc):
                free_accelerator_memory()
            try:
                self._reset(message)
            except Exception as reset_exc:
                self._counters.record_error(f'reset failed: {reset_exc}')
            return []

    def _emit_keyframes(self, stamp_ns: int) -> None:
        """Hand the engine's refined keyframe window (if it has one) to ``publish_keyframes``."""
        if self._publish_keyframes is None:
            return
        try:
            self._publish_keyframes(self._engine.keyframe_poses(), stamp_ns)
        except Exception as exc:  # noqa: BLE001 - counted like a result that cannot be built
            message = f'keyframe path failed: {type(exc).__name__}: {exc}'.splitlines()[0][:300]
            self._counters.record_error(message)
            self._logger.error(message, throttle_duration_sec=5.0)

    def _emit(self, result: FrameResult) -> None:
        start = time.perf_counter()
        try:
            self._publish(result)
        except Exception as exc:  # noqa: BLE001 - a message that cannot be built is counted
            message = f'publish failed: {type(exc).__name__}: {exc}'.splitlines()[0][:300]
            self._counters.record_error(message)
            self._logger.error(message, throttle_duration_sec=5.0)
            return
        publish_ms = (time.perf_counter() - start) * 1e3
        fraction = dynamic_fraction(result)
        with self._counters.lock:
            self._counters.published += 1
            self._counters.is_metric = bool(result.is_metric)
            self._counters.residual = float(result.residual)
            self._counters.dynamic_fraction = fraction
            self._counters.publish_ms = publish_ms
