"""Geometry helpers: quaternions, transforms, Umeyama, cameras."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from align3r_ros.geometry import (default_intrinsics, default_principal_point, intrinsics_matrix,
                                  invert_transform, make_transform, matrix_to_quaternion,
                                  quaternion_to_matrix, scale_intrinsics, transform_points,
                                  umeyama_alignment, unproject_depth)


def test_quaternion_round_trip_xyzw():
    rng = np.random.RandomState(0)
    R = Rotation.random(20, random_state=rng).as_matrix()
    q = matrix_to_quaternion(R)
    assert q.shape == (20, 4) and (q[:, 3] >= 0).all()
    np.testing.assert_allclose(quaternion_to_matrix(q), R, atol=1e-12)
    # xyzw: a rotation of 90 degrees about z has x = y = 0
    qz = matrix_to_quaternion(Rotation.from_euler('z', 90, degrees=True).as_matrix())
    np.testing.assert_allclose(qz, [0, 0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(3 * q), R, atol=1e-12)  # normalised


def test_invert_and_transform():
    R = Rotation.from_euler('xyz', [10, -20, 30], degrees=True).as_matrix()
    T = make_transform(R, [1.0, -2.0, 0.5])
    np.testing.assert_allclose(T @ invert_transform(T), np.eye(4), atol=1e-12)
    p = np.array([[0.3, 0.2, 4.0]])
    np.testing.assert_allclose(transform_points(invert_transform(T), transform_points(T, p)),
                               p, atol=1e-12)


@pytest.mark.parametrize('with_scale', [True, False])
def test_umeyama_recovers_similarity(with_scale):
    rng = np.random.RandomState(1)
    src = rng.randn(200, 3)
    R = Rotation.random(random_state=rng).as_matrix()
    s = 1.7 if with_scale else 1.0
    dst = s * src @ R.T + [0.5, -1.0, 2.0]
    sim = umeyama_alignment(src, dst, rng.uniform(0.5, 2, 200), with_scale=with_scale)
    assert sim.scale == pytest.approx(s, rel=1e-10)
    np.testing.assert_allclose(sim.R, R, atol=1e-10)
    np.testing.assert_allclose(sim.apply(src), dst, atol=1e-9)
    with pytest.raises(ValueError):
        umeyama_alignment(src, dst, np.zeros(200))


def test_unproject_and_scale_intrinsics():
    K = np.array([[50.0, 0, 16], [0, 60.0, 12], [0, 0, 1]])
    depth = np.full((24, 32), 2.0)
    pts = unproject_depth(depth, K)
    assert pts.shape == (24, 32, 3)
    np.testing.assert_allclose(pts[12, 16], [0, 0, 2.0])
    np.testing.assert_allclose(pts[0, 0], [-16 / 50 * 2, -12 / 60 * 2, 2.0])
    K2 = scale_intrinsics(K, (24, 32), (48, 64))
    np.testing.assert_allclose(K2, [[100, 0, 32.5], [0, 120, 24.5], [0, 0, 1]])
    np.testing.assert_allclose(scale_intrinsics(K2, (48, 64), (24, 32)), K)


def test_default_intrinsics_principal_point_is_half_size():
    """Unknown principal point = (W/2, H/2), the official alignment's convention."""
    assert default_principal_point(48, 64) == (32.0, 24.0)
    K = default_intrinsics(48, 64, 51.2)
    assert K.dtype == np.float64
    np.testing.assert_array_equal(K, [[51.2, 0, 32.0], [0, 51.2, 24.0], [0, 0, 1]])
    np.testing.assert_array_equal(default_intrinsics(48, 64, 50.0, 60.0),
                                  intrinsics_matrix(50.0, 60.0, 32.0, 24.0))
    # the pixel at the principal point unprojects onto the optical axis
    pts = unproject_depth(np.full((48, 64), 3.0), K)
    np.testing.assert_allclose(pts[24, 32], [0.0, 0.0, 3.0])
