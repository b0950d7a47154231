"""Map scoring (no Open3D): the trajectory fit recovers a known Sim(3) (and the axes pin the
roll that a straight path leaves free); outliers and trail points are counted where they are."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from align3r_ros.errors import InputError
from align3r_ros.geometry.se3 import make_transform
from align3r_ros.geometry.sim3 import Sim3
from align3r_ros.mapping.quality import (SweptBall, in_swept_volume, map_quality,
                                         reference_extent, trajectory_alignment)


def _poses(centres, rng):
    return np.stack([make_transform(Rotation.from_rotvec(rng.normal(0, 0.3, 3)).as_matrix(), c)
                     for c in centres])


def test_the_trajectory_fit_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    truth = _poses(rng.uniform(-1, 1, (10, 3)), rng)
    sim = Sim3(2.5, Rotation.from_rotvec([0.2, -0.4, 0.9]).as_matrix(), np.array([1., 2, 3]))
    ours = Sim3(1 / sim.scale, sim.R.T, -sim.R.T @ sim.t / sim.scale).apply_to_poses(truth)
    stamps = np.arange(10) * 10
    for axis_length in (0.0, 0.7):
        fit = trajectory_alignment(stamps, ours, stamps, truth, axis_length)
        assert fit.scale == pytest.approx(sim.scale, rel=1e-9)
        np.testing.assert_allclose(fit.R, sim.R, atol=1e-9)
        np.testing.assert_allclose(fit.t, sim.t, atol=1e-9)


def test_the_axes_pin_the_roll_a_nearly_straight_path_leaves_free():
    rng = np.random.default_rng(1)
    line = np.stack([np.linspace(0, 2, 12), 1e-3 * rng.normal(size=12), np.zeros(12)], 1)
    truth = _poses(line, rng)
    ours = np.array(truth)
    ours[:, :3, 3] += 2e-3 * rng.normal(size=(12, 3))   # centres off by millimetres
    stamps = np.arange(12)
    far = np.array([0.0, 0.0, 5.0])                      # a map point 5 m off the path
    centres_only = trajectory_alignment(stamps, ours, stamps, truth)
    with_axes = trajectory_alignment(stamps, ours, stamps, truth, axis_length=1.0)
    assert np.linalg.norm(with_axes.apply(far) - far) < 0.02
    assert np.linalg.norm(centres_only.apply(far) - far) > 5 * np.linalg.norm(
        with_axes.apply(far) - far)


def test_too_few_common_stamps_is_a_named_error():
    poses = np.tile(np.eye(4), (3, 1, 1))
    with pytest.raises(InputError, match='2 stamps in common'):
        trajectory_alignment([1, 2, 3], poses, [2, 3, 4], poses)


def test_outliers_and_trail_points_are_counted_where_they_are():
    rng = np.random.default_rng(2)
    wall = np.stack([rng.uniform(0, 4, 4000), rng.uniform(0, 4, 4000), np.full(4000, 5.0)], 1)
    mover = SweptBall(centres=np.stack([np.linspace(1, 3, 10), np.full(10, 2.0),
                                        np.full(10, 3.0)], 1), radius=0.4)
    near_wall = wall[:100] + [0, 0, 0.05]                        # within the threshold
    ghosts = mover.centres[::3] + [0.0, 0.0, -0.4]               # on the mover's surface
    stray = np.array([[3.5, 3.5, 1.0], [0.2, 0.2, 2.0]])         # far off, away from the path
    quality = map_quality(np.concatenate([near_wall, ghosts, stray]), wall, [mover], 0.1)
    assert (quality.points, quality.outliers, quality.trail_points) == (106, 6, 4)
    assert quality.outlier_fraction == pytest.approx(6 / 106)
    assert in_swept_volume(ghosts, [mover], 0.0).all()
    assert not in_swept_volume(stray, [mover], 0.1).any()
    assert reference_extent(wall) == pytest.approx(np.linalg.norm(np.ptp(wall, axis=0)))
    with pytest.raises(InputError, match='no points'):
        map_quality(stray, np.zeros((0, 3)), [mover], 0.1)
