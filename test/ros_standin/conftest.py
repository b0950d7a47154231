"""Install the rclpy / tf2_ros stand-in for one test at a time, and fake engines."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, List

import numpy as np
import pytest

from align3r_ros.structures import EngineStats, FrameResult

from . import standin


@pytest.fixture
def ros(monkeypatch):
    """sys.modules holds the stand-in for the test; align3r_ros.ros.* are imported fresh."""
    from rosbags.typesys import Stores, get_typestore
    for name, module in standin.build_modules(get_typestore(Stores.ROS2_HUMBLE)).items():
        monkeypatch.setitem(sys.modules, name, module)
    stale = [name for name in sys.modules if name.startswith('align3r_ros.ros.')]
    for name in stale:
        monkeypatch.delitem(sys.modules, name)
    standin.GRAPH.__init__()
    yield standin
    for name in [name for name in sys.modules if name.startswith('align3r_ros.ros.')]:
        del sys.modules[name]  # never leak modules bound to the stand-in


class FakeEngine:
    """One result per pushed frame: a 2 m plane, camera moving 0.1 m along x per frame.

    ``fail_on`` stamps raise ``error`` (a backend failure) instead.
    """

    def __init__(self, fail_on=(), error: Exception = RuntimeError('backend exploded'),
                 delay_s: float = 0.0, is_metric: bool = True) -> None:
        self.fail_on, self.error, self.delay_s, self.is_metric = set(fail_on), error, delay_s, \
            is_metric
        self.pushed: List[int] = []
        self.stats = EngineStats(stage_ms={'network': 1.0, 'align': 2.0})

    def push(self, frame) -> List[FrameResult]:
        if self.delay_s:
            time.sleep(self.delay_s)
        if frame.stamp_ns in self.fail_on:
            raise self.error
        self.pushed.append(frame.stamp_ns)
        h, w = frame.rgb.shape[:2]
        depth = np.full((h, w), 2.0, np.float32)
        conf = np.full((h, w), 5.0, np.float32)
        conf[0, :] = 1.0  # below the default threshold 3.0: published as NaN
        K = frame.K if frame.K is not None else np.array([[w, 0, (w - 1) / 2],
                                                         [0, w, (h - 1) / 2], [0, 0, 1.0]])
        T = np.eye(4)
        T[0, 3] = 0.1 * len(self.pushed)
        return [FrameResult(stamp_ns=frame.stamp_ns, depth=depth, confidence=conf, K=K,
                            T_world_cam=T, is_metric=self.is_metric,
                            dynamic_mask=np.zeros((h, w), bool), rgb=frame.rgb, residual=0.5)]


class EngineFactory:
    """Counts builds; each build gets a FakeEngine made by ``make``."""

    def __init__(self, make: Callable[[], Any] = FakeEngine) -> None:
        self.make = make
        self.built: List[Any] = []
        self.lock = threading.Lock()

    def __call__(self, config) -> Any:
        with self.lock:
            engine = self.make()
            self.built.append(engine)
            return engine
