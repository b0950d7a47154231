"""The one fake engine of the tests (the node, its process script and the replay use it) and a
factory that counts the engines it builds. No ROS imports.

Each result carries its frame's ``tag`` (the image frame_id) like the real engine does.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

import numpy as np

from align3r_ros.structures import EngineStats, Frame, FrameResult, KeyframePose


class FakeEngine:
    """A ``FrameEngine`` without networks: it answers each frame from what the frame carries.

    Depth: the frame's ground-truth depth times ``truth_scale`` where it has one, else a plane
    2 m away; confidence 5 except row 0 (1.0, below the default threshold 3.0: published as
    NaN). Pose: the ground-truth pose with its translation times ``truth_scale`` where the
    frame has one (exact up to Sim(3)), else the camera 0.1 m along x per frame pushed (frame
    i at 0.1 (i + 1)). K: the frame's, else a focal of the image width.

    Results are held until ``clip`` frames are pending, then all returned (``clip=1``: one
    result per push; more: like clip mode); ``flush`` returns the rest. ``fail_on`` stamps
    raise ``error`` (a backend failure) instead; ``gate`` (a threading.Event) blocks every push
    until set, so a test can fill the node's queue deterministically; ``on_push`` sees every
    frame pushed.

    Args:
        config: the config an engine factory passes (unused).
    """

    def __init__(self, config: Any = None, *, clip: int = 1, truth_scale: float = 0.5,
                 is_metric: bool = True, fail_on=(),
                 error: Exception = RuntimeError('backend exploded'),
                 gate: Optional[threading.Event] = None,
                 on_push: Optional[Callable[[Frame], None]] = None) -> None:
        self.clip, self.truth_scale, self.is_metric = clip, truth_scale, is_metric
        self.fail_on, self.error, self.gate, self.on_push = set(fail_on), error, gate, on_push
        self.pushed: List[int] = []
        self.held: List[FrameResult] = []
        self.stats = EngineStats()

    def push(self, frame: Frame) -> List[FrameResult]:
        if self.gate is not None:
            self.gate.wait()
        if self.on_push is not None:
            self.on_push(frame)
        if frame.stamp_ns in self.fail_on:
            raise self.error
        self.pushed.append(frame.stamp_ns)
        self.held.append(self.result(frame))
        return self.flush() if len(self.held) >= self.clip else []

    def result(self, frame: Frame) -> FrameResult:
        """The answer for ``frame`` (see the class docstring)."""
        h, w = frame.shape
        if frame.gt_depth is not None:
            depth = (self.truth_scale * frame.gt_depth).astype(np.float32)
        else:
            depth = np.full((h, w), 2.0, np.float32)
        conf = np.full((h, w), 5.0, np.float32)
        conf[0, :] = 1.0
        K = frame.K if frame.K is not None else np.array([[w, 0, w / 2], [0, w, h / 2],
                                                         [0, 0, 1.0]])
        if frame.gt_T_world_cam is not None:
            T = frame.gt_T_world_cam.copy()
            T[:3, 3] *= self.truth_scale
        else:
            T = np.eye(4)
            T[0, 3] = 0.1 * len(self.pushed)
        return FrameResult(stamp_ns=frame.stamp_ns, depth=depth, confidence=conf, K=K,
                           T_world_cam=T, is_metric=self.is_metric,
                           dynamic_mask=np.zeros((h, w), bool), rgb=frame.rgb, residual=0.5,
                           tag=frame.tag)

    def flush(self) -> List[FrameResult]:
        out, self.held = self.held, []
        return out

    def keyframe_poses(self) -> List[KeyframePose]:
        return []

    @property
    def held_frames(self) -> int:
        return len(self.held)


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
