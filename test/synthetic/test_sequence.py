"""Synthetic generator: shapes, determinism, and multi-view consistency of depth and poses."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.errors import InputError
from align3r_ros.synthetic import iter_frames, make_sequence
from align3r_ros.synthetic.camera_path import look_at


def _world_points(depth, K, T_world_cam):
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * depth, (v - K[1, 2]) / K[1, 1] * depth, depth], -1)
    return cam @ T_world_cam[:3, :3].T + T_world_cam[:3, 3]


def test_shapes_dtypes_and_frames():
    seq = make_sequence(5, 24, 32, seed=3, num_movers=1)
    assert seq.rgb.shape == (5, 24, 32, 3) and seq.rgb.dtype == np.uint8
    assert seq.depth.shape == (5, 24, 32) and seq.depth.dtype == np.float32
    assert seq.T_world_cam.shape == (5, 4, 4) and seq.dynamic_mask.dtype == bool
    assert np.all(np.isfinite(seq.depth)) and seq.depth.min() > 0.1
    stamps = [f.stamp_ns for f in seq.frames]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    for k, frame in enumerate(seq.frames):
        assert frame.rgb is not None and np.array_equal(frame.gt_depth, seq.depth[k])
        np.testing.assert_allclose(frame.K, seq.K)
    # rotations are orthonormal
    R = seq.T_world_cam[:, :3, :3]
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)


def test_deterministic_by_seed_and_lazy_equals_eager():
    a = make_sequence(3, 16, 24, seed=5)
    b = make_sequence(3, 16, 24, seed=5)
    c = make_sequence(3, 16, 24, seed=6)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    assert not np.array_equal(a.depth, c.depth)
    lazy = list(iter_frames(3, 16, 24, seed=5))
    assert np.array_equal(lazy[2].rgb, a.rgb[2])


def test_static_pixels_reproject_consistently():
    """World points of frame 0 projected into frame 3 hit pixels of the same depth."""
    seq = make_sequence(4, 48, 64, seed=1, num_movers=1)
    K = seq.K
    pts = _world_points(seq.depth[0].astype(np.float64), K, seq.T_world_cam[0])
    T_cam_world = np.linalg.inv(seq.T_world_cam[3])
    cam = pts @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]
    u = np.round(cam[..., 0] / cam[..., 2] * K[0, 0] + K[0, 2]).astype(int)
    v = np.round(cam[..., 1] / cam[..., 2] * K[1, 1] + K[1, 2]).astype(int)
    inside = (u >= 0) & (u < 64) & (v >= 0) & (v < 48) & (cam[..., 2] > 0)
    inside &= ~seq.dynamic_mask[0]
    rel = np.abs(seq.depth[3][v[inside], u[inside]] - cam[..., 2][inside]) / cam[..., 2][inside]
    assert inside.sum() > 1000
    # rounding to the nearest pixel and occlusion boundaries leave a few outliers
    assert np.median(rel) < 0.01
    assert np.mean(rel < 0.05) > 0.9


def test_movers_give_masks_and_rigid_scenes_none():
    moving = make_sequence(10, 32, 48, seed=2, num_movers=2)
    rigid = make_sequence(10, 32, 48, seed=2, num_movers=0)
    assert moving.dynamic_mask.any(axis=(1, 2)).all()
    assert not rigid.dynamic_mask.any()
    # the mover moves: its mask changes between frames
    assert not np.array_equal(moving.dynamic_mask[0], moving.dynamic_mask[9])


def test_static_camera_and_trajectory_length():
    still = make_sequence(4, 16, 24, seed=0, speed=0.0)
    assert np.allclose(still.T_world_cam, still.T_world_cam[:1])
    assert still.trajectory_length == pytest.approx(0.0, abs=1e-12)
    moving = make_sequence(30, 16, 24, seed=0)
    assert 0.5 < moving.trajectory_length < 5.0


def test_look_at_points_the_optical_axis():
    T = look_at(np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.0, 5.0]))
    np.testing.assert_allclose(T[:3, :3], np.eye(3), atol=1e-12)


def test_bad_size_raises():
    with pytest.raises(InputError, match='num_frames=0'):
        make_sequence(0, 16, 16)
