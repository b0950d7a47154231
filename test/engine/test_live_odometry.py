"""Live mode's odometry state (engine/live/odometry.py) on hand-made frames: every tracked frame
and keyframe feeds the scale fit; a frame whose odometry disagrees stays out of it (also when it
becomes a keyframe) and starts a new segment."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from align3r_ros.config_io import load_config
from align3r_ros.engine.live.odometry import LiveOdometry

# odometry weight 0 after the check: the fused pose is the vision pose, so the fit sees exactly
# the positions given here (the disagreement test runs on any weight > 0)
CONFIG = load_config({'input': {'odometry_weight': 1e-12, 'odometry_disagreement': 0.05,
                                'odometry_disagreement_deg': 5.0}})


def pose(s: float, units: float = 1.0) -> np.ndarray:
    """The camera ``s`` metres along a bent path, in ``units`` metres per unit."""
    T = np.eye(4)
    T[:3, 3] = np.array([s, 0.1 * s * s, 0.0]) / units
    return T


def push(odometry: LiveOdometry, stamp: int, s_true: float, s_odom: float,
         keyframe: bool) -> str:
    """Track a frame (vision at 2 m per unit) and, as a keyframe, add it."""
    prepared = SimpleNamespace(stamp_ns=stamp, T_odom_cam=pose(s_odom))  # the fields read
    T = torch.as_tensor(pose(s_true, units=2.0), dtype=torch.float64)
    T_fused, note = odometry.prior(prepared, T)
    if keyframe:
        odometry.keyframe_added(SimpleNamespace(prepared=prepared, T_world_cam=T_fused))
    return note


@pytest.mark.parametrize('spike_is_keyframe', [False, True])
def test_a_disagreeing_frame_stays_out_of_the_scale_fit(spike_is_keyframe):
    odometry = LiveOdometry(CONFIG)
    for k in range(10):  # 0.1 m per frame
        assert push(odometry, k, 0.1 * k, 0.1 * k, keyframe=k % 3 == 0) == ''
    assert odometry.metres_per_unit == pytest.approx(2.0, rel=1e-9)
    # a bad transform: the odometry jumps 0.5 m for one frame
    note = push(odometry, 10, 1.0, 1.5, keyframe=spike_is_keyframe)
    assert 'odometry disagrees' in note and odometry.disagreements == 1
    for k in range(11, 15):  # (frame 15 would compare its motion with the spike's)
        assert push(odometry, k, 0.1 * k, 0.1 * k, keyframe=k % 3 == 0) == ''
    assert odometry.metres_per_unit == pytest.approx(2.0, rel=1e-9)
    assert odometry.disagreements == 1
