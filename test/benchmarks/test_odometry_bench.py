"""The odometry benchmark's simulation and metrics on known paths (the engine runs are
``align3r-bench odometry``; test/engine/test_odometry_engine.py holds the engine targets)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from align3r_ros.benchmarks.odometry import (depth_scale_error, run_metrics, se3_ate, targets,
                                             window_ate)
from align3r_ros.benchmarks.odometry_sim import OdometryNoise, simulate_odometry
from align3r_ros.geometry.se3 import relative_transform
from align3r_ros.structures import Frame, FrameResult


def circle_path(n: int = 40, radius: float = 1.0) -> np.ndarray:
    """A camera on a horizontal circle (optical y down = world -z), looking outward."""
    out = np.tile(np.eye(4), (n, 1, 1))
    for k in range(n):
        a = 0.05 * k
        R_world_cam = Rotation.from_euler('z', a).as_matrix() @ np.array(
            [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)
        out[k, :3, :3] = R_world_cam
        out[k, :3, 3] = [radius * np.cos(a), radius * np.sin(a), 0.0]
    return out


def test_noise_free_odometry_is_the_truth_and_each_error_acts_alone():
    gt = circle_path()
    exact = simulate_odometry(gt, OdometryNoise(0.0, 0.0, 0.0, 0.0))
    np.testing.assert_allclose(exact, gt, atol=1e-12)
    scaled = simulate_odometry(gt, OdometryNoise(0.01, 0.0, 0.0, 0.0))
    steps_gt = np.linalg.norm(relative_transform(gt[:-1], gt[1:])[:, :3, 3], axis=1)
    steps = np.linalg.norm(relative_transform(scaled[:-1], scaled[1:])[:, :3, 3], axis=1)
    np.testing.assert_allclose(steps, 1.01 * steps_gt, rtol=1e-12)
    drift = simulate_odometry(gt, OdometryNoise(0.0, 0.0, 0.0, 0.5))
    length = steps_gt.sum()
    R_err = drift[-1, :3, :3] @ gt[-1, :3, :3].T  # heading error about world up (+z here)
    rotvec = Rotation.from_matrix(R_err).as_rotvec()
    assert np.degrees(rotvec[2]) == pytest.approx(0.5 * length, rel=1e-6)
    assert np.allclose(rotvec[:2], 0.0, atol=1e-12)


def test_noise_has_the_stated_size_and_the_slip_freezes_odometry():
    gt = circle_path(400, radius=10.0)
    jitter = simulate_odometry(gt, OdometryNoise(0.0, 0.005, 0.2, 0.0, seed=3))
    walk = simulate_odometry(gt, OdometryNoise(0.0, 0.005, 0.2, 0.0, seed=3,
                                               noise_model='walk'))
    # jitter: each pose is off by its own draw; walk: each increment is
    for error in (relative_transform(gt, jitter)[1:],
                  relative_transform(relative_transform(gt[:-1], gt[1:]),
                                     relative_transform(walk[:-1], walk[1:]))):
        assert np.std(error[:, :3, 3]) == pytest.approx(0.005, rel=0.1)
        angles = Rotation.from_matrix(error[:, :3, :3]).as_rotvec()
        assert np.degrees(np.std(angles)) == pytest.approx(0.2, rel=0.1)
    # jitter does not accumulate, a walk does (400 steps: sqrt(400) * 5 mm per axis)
    assert np.linalg.norm(jitter[-1, :3, 3] - gt[-1, :3, 3]) < 0.03
    assert np.linalg.norm(walk[-1, :3, 3] - gt[-1, :3, 3]) > 0.03
    with pytest.raises(ValueError, match='noise_model'):
        OdometryNoise(noise_model='brownian')
    slipped = simulate_odometry(gt[:40], OdometryNoise(0.0, 0.0, 0.0, 0.0, slip=(10, 20)))
    np.testing.assert_allclose(slipped[10:20], np.broadcast_to(slipped[9], (10, 4, 4)))
    np.testing.assert_allclose(relative_transform(slipped[20], slipped[21]),
                               relative_transform(gt[20], gt[21]), atol=1e-12)


def _result(T: np.ndarray, depth: np.ndarray, metric: bool, status: str = '') -> FrameResult:
    shape = depth.shape
    return FrameResult(stamp_ns=0, depth=depth.astype(np.float32),
                       confidence=np.ones(shape, np.float32), K=np.eye(3), T_world_cam=T,
                       is_metric=metric, dynamic_mask=np.zeros(shape, bool), status=status)


def test_metrics_of_a_known_run():
    gt = circle_path(20, radius=1.0)
    gt_depth = np.full((4, 4), 2.0)
    frames = [Frame(stamp_ns=k, rgb=np.zeros((4, 4, 3), np.uint8), gt_depth=gt_depth,
                    gt_T_world_cam=gt[k]) for k in range(20)]
    offset = np.eye(4)
    offset[:3, 3] = [5.0, 0, 0]  # another world: a rigid fit removes it
    results = [_result(offset @ gt[k], 1.02 * gt_depth, k >= 2,
                       'odometry disagrees with vision' if k in (5, 6) else '')
               for k in range(20)]
    out = run_metrics(results, frames, gt, range(5, 8))
    assert out['ate_se3_metric_m'] == pytest.approx(0.0, abs=1e-9)
    assert out['odometry_ate_se3_m'] == pytest.approx(0.0, abs=1e-9)
    assert out['metric_frames'] == 18 and out['first_metric_frame'] == 2
    assert out['scale_error_after_0_3m']['max'] == pytest.approx(0.02, rel=1e-5)
    assert out['slip_frames_reported'] == [5, 6] and out['after_slip_frames'] == list(range(8, 20))
    assert window_ate(results, frames, range(8, 20)) == pytest.approx(0.0, abs=1e-9)
    assert window_ate(results, frames, []) is None  # a run too short for the window
    assert depth_scale_error(np.full((2, 2), np.nan), np.ones((2, 2))) is None
    shrunk = gt[:, :3, 3] * 0.9
    assert se3_ate(shrunk, gt[:, :3, 3]) > 0.01  # no scale fitted: a scale error shows


def test_targets_hold_only_on_the_numbers():
    runs = {'vision': {'ate_sim3_m': 0.01, 'push_seconds': {'median': 1.0}},
            'odometry': {'scale_error_after_0_3m': {'max': 0.02}, 'ate_se3_metric_m': 0.012,
                         'odometry_ate_se3_m': 0.02, 'push_seconds': {'median': 1.05},
                         'window_ate_se3_m': {'after_slip': 0.01}},
            'slip': {'window_ate_se3_m': {'after_slip': 0.015}, 'slip_frames_reported': [3],
                     'finite': True}}
    assert all(t['holds'] for t in targets(runs).values())
    runs['odometry']['scale_error_after_0_3m']['max'] = 0.05
    runs['odometry']['ate_se3_metric_m'] = 0.03
    failed = {k for k, t in targets(runs).items() if not t['holds']}
    assert failed == {'scale_error_le_3_percent', 'metric_ate_le_odometry_ate',
                      'metric_ate_le_1_5_x_vision_sim3_ate'}
