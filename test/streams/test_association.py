"""Stamp association and pose interpolation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from align3r_ros.streams.association import (
    NO_MATCH,
    associate_nearest,
    associate_one_to_one,
    interpolate_poses,
)


def test_nearest_allows_shared_references_and_rejects_far_ones():
    reference = np.array([100, 0, 200], dtype=np.int64)  # unsorted on purpose
    result = associate_nearest([1, 98, 149, 151, 500], reference, 50)
    assert result.tolist() == [1, 0, 0, 2, NO_MATCH]
    assert associate_nearest([1, 2], [], 10).tolist() == [NO_MATCH, NO_MATCH]


def test_one_to_one_is_greedy_by_difference_like_tum_associate():
    # Queries 9 and 12 both want reference 11: the closer (12, diff 1) wins, 9 takes 0 (diff 9).
    result = associate_one_to_one([9, 12, 1000], [0, 11], 20)
    assert result.tolist() == [0, 1, NO_MATCH]


def test_interpolate_poses_slerp_and_gaps():
    stamps = np.array([0, 100, 1000], dtype=np.int64)
    T = np.tile(np.eye(4), (3, 1, 1))
    T[1, :3, :3] = Rotation.from_euler('z', 90, degrees=True).as_matrix()
    T[1, :3, 3] = [1.0, 2.0, 0.0]
    poses, found = interpolate_poses([50, 25, 600, 1004, 5000], stamps, T, max_gap_ns=200)
    assert found.tolist() == [True, True, False, True, False]
    assert np.allclose(poses[0, :3, 3], [0.5, 1.0, 0.0])
    angle = Rotation.from_matrix(poses[0, :3, :3]).magnitude()
    assert angle == pytest.approx(np.pi / 4)
    assert np.allclose(poses[3], T[2])
    assert np.isnan(poses[2]).all()


def test_interpolation_keeps_nanosecond_stamps_exact_at_epoch_scale():
    base = 1_700_000_000_000_000_000
    stamps = base + np.array([0, 10], dtype=np.int64)
    T = np.tile(np.eye(4), (2, 1, 1))
    T[1, 0, 3] = 10.0
    poses, found = interpolate_poses([base + 3], stamps, T, max_gap_ns=20)
    assert found[0] and poses[0, 0, 3] == pytest.approx(3.0)
