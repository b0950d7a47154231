"""Engine runs of the live-mode tests: per-push results, an oracle engine with a recording
backend, a turned camera."""

from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

import numpy as np

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.engine import Engine
from align3r_ros.structures import Frame, FrameResult
from align3r_ros.synthetic.render import render_view
from align3r_ros.synthetic.scene import make_scene
from support.backends import RecordingBackend
from support.configs import live_config
from support.torch_threads import single_torch_thread


def run_per_push(engine: Engine, frames: Sequence[Frame]) -> List[List[FrameResult]]:
    """What each push returned, one list per frame (flush appended as a last list)."""
    out = []
    with single_torch_thread():
        for frame in frames:
            out.append(engine.push(frame))
        out.append(engine.flush())
    return out


def live_engine(rewrite=None, **groups) -> Tuple[Engine, RecordingBackend]:
    """A live-mode oracle engine (``live_config(**groups)``) and its recording backend."""
    config = live_config(**groups)
    backend = RecordingBackend(OracleBackend.from_config(config), rewrite)
    return Engine(config, backend), backend


def turned(frame: Frame, seed: int, num_movers: int, index: int) -> Frame:
    """``frame`` re-rendered with the camera turned 180 deg about its own vertical axis."""
    T = frame.gt_T_world_cam @ np.diag([-1.0, 1.0, -1.0, 1.0])
    h, w = frame.shape
    view = render_view(make_scene(seed, num_movers=num_movers), T, frame.K, h, w, index)
    return dataclasses.replace(frame, rgb=view.rgb, gt_depth=view.depth, gt_T_world_cam=T,
                               gt_dynamic_mask=view.dynamic_mask)
