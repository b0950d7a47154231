"""Geometry helpers: quaternions, transforms, Umeyama, cameras."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from align3r_ros.errors import AlignmentError, InputError
from align3r_ros.geometry import (default_intrinsics, default_principal_point,
                                  image_plane_coordinates, intrinsics_matrix, invert_transform,
                                  make_transform, matrix_to_quaternion, orthonormalise_rotation,
                                  pixel_rays, quaternion_to_matrix, relative_transform,
                                  transform_points, umeyama_alignment, unproject_depth)


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
    with pytest.raises(InputError, match='no direction'):
        quaternion_to_matrix(np.zeros((2, 4)))


def test_orthonormalise_rotation_projects_drift_and_rejects_reflections():
    R = Rotation.from_euler('xyz', [10, -20, 30], degrees=True).as_matrix()
    drifted = R + 1e-4 * np.random.RandomState(2).randn(3, 3)
    R_ortho = orthonormalise_rotation(drifted)
    np.testing.assert_allclose(R_ortho @ R_ortho.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(R_ortho, R, atol=1e-3)
    with pytest.raises(InputError, match='reflection'):
        orthonormalise_rotation(np.diag([1.0, 1.0, -1.0]))


def test_invert_and_transform():
    R = Rotation.from_euler('xyz', [10, -20, 30], degrees=True).as_matrix()
    T = make_transform(R, [1.0, -2.0, 0.5])
    np.testing.assert_allclose(T @ invert_transform(T), np.eye(4), atol=1e-12)
    S = T.copy()
    S[:3, :3] *= 2.5  # a similarity
    np.testing.assert_allclose(invert_transform(S) @ S, np.eye(4), atol=1e-12)
    p = np.array([[0.3, 0.2, 4.0], [1.0, -1.0, 2.0]])
    np.testing.assert_allclose(transform_points(invert_transform(T), transform_points(T, p)), p,
                               atol=1e-12)
    np.testing.assert_allclose(transform_points(T, p[0]), (T @ np.append(p[0], 1.0))[:3])
    T2 = make_transform(R.T, [0.1, 0.2, -0.3])
    np.testing.assert_allclose(relative_transform(T, T2), np.linalg.inv(T) @ T2, atol=1e-12)
    batch = np.stack([T, T2])
    np.testing.assert_allclose(relative_transform(batch, batch[::-1]),
                               np.linalg.inv(batch) @ batch[::-1], atol=1e-12)


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
    # unweighted (evo's plain means) gives the same similarity
    plain = umeyama_alignment(src, dst, with_scale=with_scale, min_rank=2)
    assert plain.scale == pytest.approx(s, rel=1e-10)
    np.testing.assert_allclose(plain.apply(src), dst, atol=1e-9)


def test_umeyama_rank_rule_and_pose_mapping():
    """A static trajectory (rank 0) is refused under evo's rule; poses stay rigid."""
    still = np.zeros((5, 3))
    with pytest.raises(AlignmentError, match='Degenerate covariance rank'):
        umeyama_alignment(still, np.random.RandomState(3).randn(5, 3), min_rank=2)
    assert umeyama_alignment(still, still + 1.0).scale == 1.0  # no spread: s = 1
    with pytest.raises(InputError):
        umeyama_alignment(np.zeros((4, 3)), np.zeros((5, 3)))
    rng = np.random.RandomState(4)
    R = Rotation.random(random_state=rng).as_matrix()
    poses = np.stack([make_transform(Rotation.random(random_state=rng).as_matrix(),
                                     rng.randn(3)) for _ in range(6)])
    dst = 3.0 * poses[:, :3, 3] @ R.T + [1.0, 2.0, 3.0]
    sim = umeyama_alignment(poses[:, :3, 3], dst, min_rank=2)
    mapped = sim.apply_to_poses(poses)
    np.testing.assert_allclose(mapped[:, :3, 3], dst, atol=1e-9)
    np.testing.assert_allclose(mapped[:, :3, :3], R @ poses[:, :3, :3], atol=1e-9)


def test_unproject_rays_and_plane_coordinates():
    K = np.array([[50.0, 0, 16], [0, 60.0, 12], [0, 0, 1]])
    depth = np.full((24, 32), 2.0)
    pts = unproject_depth(depth, K)
    assert pts.shape == (24, 32, 3)
    np.testing.assert_allclose(pts[12, 16], [0, 0, 2.0])
    np.testing.assert_allclose(pts[0, 0], [-16 / 50 * 2, -12 / 60 * 2, 2.0])
    np.testing.assert_allclose(pts[5, 7], [(7 - 16) / 50 * 2, (5 - 12) / 60 * 2, 2.0])
    rays = pixel_rays(K, 24, 32)
    np.testing.assert_allclose(rays * 2.0, pts)
    # batched K and depth
    K2 = K.copy()
    K2[0, 0] = 100.0
    both = unproject_depth(np.stack([depth, 3 * depth]), np.stack([K, K2]))
    np.testing.assert_allclose(both[0], pts)
    np.testing.assert_allclose(both[1, 0, 0], [-16 / 100 * 6, -12 / 60 * 6, 6.0])
    # strided float32 coordinates are the full grid's [::stride]
    x32, y32 = image_plane_coordinates(K, 24, 32, stride=3, dtype=np.float32)
    assert x32.dtype == np.float32 and x32.shape == (11,) and y32.shape == (8,)
    np.testing.assert_allclose(x32, rays[0, ::3, 0], rtol=1e-6)
    np.testing.assert_allclose(y32, rays[::3, 0, 1], rtol=1e-6)


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
