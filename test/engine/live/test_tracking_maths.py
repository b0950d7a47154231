"""fit_pose and frame_depth on known transforms: a frame's pose and per-pair scales from
keyframe points it predicts, with outliers (live mode's tracking maths, no engine)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from align3r_ros.engine.live.tracking import TrackInput, fit_pose, frame_depth

H, W = 24, 32


def _pose(seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    R = Rotation.from_rotvec(rng.normal(size=3) * 0.2).as_matrix()
    return torch.tensor(R), torch.tensor(rng.normal(size=3) * 0.5)


def _edge(R, c, scale, seed, outliers=0.0, outlier_size=3.0) -> TrackInput:
    """Keyframe points X_world (h, w, 3) and the pair's view of them in the frame's camera at
    1/scale: pts_j = R^T (X - c) / scale; a fraction ``outliers`` of pts_j moved far away."""
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.normal(size=(H, W, 3)) + np.array([0.0, 0.0, 4.0]))
    pts_j = ((X - c) @ R) / scale
    bad = torch.tensor(rng.random((H, W)) < outliers)
    pts_j = torch.where(bad[..., None], pts_j + torch.tensor(
        rng.normal(size=(H, W, 3)) * outlier_size), pts_j)
    conf = torch.full((H, W), 5.0, dtype=torch.float64)
    pts_i = torch.tensor(rng.uniform(1.0, 3.0, size=(H, W, 3)))
    return TrackInput(pts_i=pts_i, conf_i=conf, pts_j=pts_j, conf_j=conf, X_world=X,
                      usable=torch.ones((H, W), dtype=torch.bool))


def _fit(edges, iterations=8):
    return fit_pose(edges, budget=H * W, iterations=iterations, inlier_threshold=0.05,
                    min_pixels=50, min_log_conf=float(np.log(3.0)),
                    generator=torch.Generator().manual_seed(0))


def _rotation_error_deg(R, R_true) -> float:
    cos = (torch.trace(R.T @ R_true) - 1.0) / 2.0
    return float(torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0))))


def test_fit_pose_recovers_a_known_pose_and_scale_exactly_without_noise():
    R, c = _pose(1)
    fit = _fit([_edge(R, c, 2.5, seed=2)])
    # arccos near 1 turns a trace round-off of k·eps into sqrt(2·k·eps) rad: in float64 with
    # k ~ 10 that is ~4e-6 deg (1.7e-6 seen under ATEN_CPU_CAPABILITY=default), so 1e-4 deg is
    # the exact-recovery bound here; the centre below is held to 1e-8 m.
    assert _rotation_error_deg(fit.R, R) < 1e-4
    torch.testing.assert_close(fit.c, c, atol=1e-8, rtol=0)
    assert abs(float(fit.scales[0]) - 2.5) < 1e-8
    assert fit.inlier_fraction == 1.0 and fit.support == H * W
    T = fit.T_world_cam()
    torch.testing.assert_close(T[:3, :3], R) and torch.testing.assert_close(T[:3, 3], c)


def test_fit_pose_recovers_pose_and_two_scales_with_a_fifth_outliers():
    """A fifth of each pair's points moved by 0.3 pair units (a moving object, a bad
    prediction): the robust (L1-like) IRLS converges to the truth. It converges slowly: at
    the default ``live.track_iterations`` (5) the centre is still ~2.5 % of the scene depth
    off on this case, at 50 steps 0.04 %."""
    R, c = _pose(3)
    edges = [_edge(R, c, 0.7, seed=4, outliers=0.2, outlier_size=0.3),
             _edge(R, c, 3.0, seed=5, outliers=0.2, outlier_size=0.3)]
    fit = _fit(edges, iterations=50)
    assert _rotation_error_deg(fit.R, R) < 0.01
    assert float((fit.c - c).norm()) < 0.005  # scene depth ~4.5
    np.testing.assert_allclose(fit.scales.numpy(), [0.7, 3.0], rtol=0.002)
    # the inlier count sees the outliers (a few land close to their truth by chance)
    assert 0.78 <= fit.inlier_fraction <= 0.84
    assert fit.residual < 0.005  # mean relative residual of the inliers


def test_fit_pose_refuses_too_few_confident_usable_pixels():
    R, c = _pose(6)
    edge = _edge(R, c, 1.0, seed=7)
    few = torch.zeros((H, W), dtype=torch.bool)
    few[0, :10] = True
    with pytest.raises(ValueError, match='confident keyframe pixels'):
        _fit([TrackInput(edge.pts_i, edge.conf_i, edge.pts_j, edge.conf_j, edge.X_world, few)])


def test_frame_depth_is_the_confidence_weighted_mean_of_the_scaled_maps():
    base = _edge(*_pose(8), 1.0, seed=9)
    z = torch.full((H, W), 2.0, dtype=torch.float64)
    pts = torch.stack([torch.zeros_like(z), torch.zeros_like(z), z], -1)
    a = TrackInput(pts, torch.full((H, W), np.e, dtype=torch.float64), base.pts_j, base.conf_j,
                   base.X_world, base.usable)
    b = TrackInput(pts, torch.full((H, W), np.e ** 3, dtype=torch.float64), base.pts_j,
                   base.conf_j, base.X_world, base.usable)
    depth, conf, points = frame_depth([a, b], torch.tensor([1.0, 2.0]))
    # weights log(conf) + 1e-6 = 1 and 3: (1·2 + 3·4) / 4 = 3.5
    torch.testing.assert_close(depth, torch.full((H, W), 3.5), atol=1e-5, rtol=0)
    torch.testing.assert_close(conf, torch.full((H, W), float(np.e ** 3)))
    assert points.shape == (2, H, W, 3) and float(points[1, 0, 0, 2]) == 4.0
