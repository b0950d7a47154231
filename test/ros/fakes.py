"""Fake engines for the node tests (no ROS imports: the node process script uses them too).

Each result carries its frame's ``tag`` (the image frame_id) like the real engine does.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List

import numpy as np

from align3r_ros.structures import EngineStats, FrameResult, KeyframePose


class FakeEngine:
    """One result per pushed frame: a 2 m plane, camera moving 0.1 m along x per frame.

    ``fail_on`` stamps raise ``error`` (a backend failure) instead; ``gate`` (a threading.Event)
    blocks every push until set, so a test can fill the queue deterministically.
    """

    def __init__(self, fail_on=(), error: Exception = RuntimeError('backend exploded'),
                 gate: threading.Event = None, is_metric: bool = True) -> None:
        self.fail_on, self.error, self.gate, self.is_metric = set(fail_on), error, gate, is_metric
        self.pushed: List[int] = []
        self.stats = EngineStats()

    def push(self, frame) -> List[FrameResult]:
        if self.gate is not None:
            self.gate.wait()
        if frame.stamp_ns in self.fail_on:
            raise self.error
        self.pushed.append(frame.stamp_ns)
        return [self._result(frame)]

    def _result(self, frame) -> FrameResult:
        h, w = frame.rgb.shape[:2]
        depth = np.full((h, w), 2.0, np.float32)
        conf = np.full((h, w), 5.0, np.float32)
        conf[0, :] = 1.0  # below the default threshold 3.0: published as NaN
        K = frame.K if frame.K is not None else np.array([[w, 0, w / 2], [0, w, h / 2],
                                                         [0, 0, 1.0]])
        T = np.eye(4)
        T[0, 3] = 0.1 * len(self.pushed)
        return FrameResult(stamp_ns=frame.stamp_ns, depth=depth, confidence=conf, K=K,
                           T_world_cam=T, is_metric=self.is_metric,
                           dynamic_mask=np.zeros((h, w), bool), rgb=frame.rgb, residual=0.5,
                           tag=frame.tag)

    def flush(self) -> List[FrameResult]:
        return []

    def keyframe_poses(self) -> List[KeyframePose]:
        return []

    @property
    def held_frames(self) -> int:
        return 0


class ClipEngine(FakeEngine):
    """Holds frames and emits them per clip of ``clip`` (like clip mode); flush emits the rest."""

    def __init__(self, clip: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clip = clip
        self.held: List[FrameResult] = []

    def push(self, frame) -> List[FrameResult]:
        self.held += super().push(frame)
        if len(self.held) < self.clip:
            return []
        out, self.held = self.held, []
        return out

    def flush(self) -> List[FrameResult]:
        out, self.held = self.held, []
        return out


class EngineFactory:
    """Counts builds; each build gets an engine made by ``make``."""

    def __init__(self, make: Callable[[], Any] = FakeEngine) -> None:
        self.make = make
        self.built: List[Any] = []
        self.lock = threading.Lock()

    def __call__(self, config) -> Any:
        with self.lock:
            engine = self.make()
            self.built.append(engine)
            return engine

    def builder(self) -> Callable[[Any], Callable[[], Any]]:
        """An ``engine_builder`` for Align3rNode (config -> engine factory)."""
        return lambda config: lambda: self(config)


def wait_until(predicate: Callable[[], bool], step: Callable[[], None],
               timeout_s: float = 60.0) -> bool:
    """Run ``step`` until ``predicate`` holds; the deadline only guards against hanging."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        step()
    return True
