"""The keyframe-window refinement on a known window: exact pair maps of four synthetic
keyframes, their tracked poses perturbed; the refinement brings them back (no engine)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from align3r_ros.config import Align3rConfig
from align3r_ros.engine.live.refine import (MIN_WINDOW, PairCache, refine_window,
                                            subsample_stride)
from align3r_ros.geometry.camera import unproject_depth
from align3r_ros.geometry.se3 import invert_transform, transform_points
from align3r_ros.structures import PairPredictions
from align3r_ros.synthetic import make_sequence

KEYS = (100, 103, 106, 109)


def _window():
    seq = make_sequence(10, 48, 64, seed=0, num_movers=0, speed=2.0)
    frames = [seq.frames[k - 100] for k in KEYS]
    return (np.stack([f.gt_T_world_cam for f in frames]),
            np.stack([f.gt_depth for f in frames]).astype(np.float32), frames[0].K)


def _exact_pairs(T: np.ndarray, depth: np.ndarray, K: np.ndarray) -> PairPredictions:
    """Every ordered pair (i, j): view i's and view j's points in camera i, each pair at its
    own scale (a pair does not know the world's)."""
    n = len(T)
    edges = [(i, j) for i in range(n) for j in range(n) if i != j]
    cam = [unproject_depth(d, K) for d in depth]
    pair_scale = np.linspace(0.5, 2.0, len(edges))
    pts_i, pts_j = [], []
    for (i, j), s in zip(edges, pair_scale):
        i_from_j = invert_transform(T[i]) @ T[j]
        pts_i.append(cam[i] / s)
        pts_j.append(transform_points(i_from_j, cam[j]) / s)
    conf = np.full((len(edges),) + depth.shape[1:], 10.0, np.float32)
    return PairPredictions(edges=np.asarray(edges, np.int64),
                           pts_i=np.stack(pts_i).astype(np.float32),
                           pts_j=np.stack(pts_j).astype(np.float32), conf_i=conf, conf_j=conf)


def _perturbed(T: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    out = T.copy()
    for k in range(1, len(T)):  # keyframe 0 is the gauge: exact
        out[k, :3, :3] = Rotation.from_rotvec(np.deg2rad(2.0) * rng.normal(size=3)
                                              / np.sqrt(3)).as_matrix() @ T[k, :3, :3]
        out[k, :3, 3] += 0.05 * rng.normal(size=3)
    return out


def _errors(T: np.ndarray, truth: np.ndarray) -> tuple:
    """Largest centre error (m) and rotation error (deg) over the window."""
    centre = np.linalg.norm(T[:, :3, 3] - truth[:, :3, 3], axis=1).max()
    rot = max(np.rad2deg(Rotation.from_matrix(a[:3, :3].T @ b[:3, :3]).magnitude())
              for a, b in zip(T, truth))
    return centre, rot


def test_refinement_pulls_a_perturbed_window_back_to_the_truth():
    truth, depth, K = _window()
    stride = subsample_stride(depth.shape[1:], Align3rConfig().live.refine_pixels)
    cache = PairCache()
    cache.add(KEYS, _exact_pairs(truth, depth, K), stride)
    assert len(cache) == 12
    tracked = _perturbed(truth)
    before = _errors(tracked, truth)
    s = slice(None, None, stride)
    outcome = refine_window(KEYS, tracked, depth[:, s, s], K, stride, cache, Align3rConfig())
    assert outcome.status == '' and outcome.T_world_cam is not None
    after = _errors(outcome.T_world_cam, truth)
    np.testing.assert_array_equal(outcome.T_world_cam[0], truth[0])  # the gauge stays
    assert before[0] > 0.03 and before[1] > 1.0
    assert after[0] < 1e-3 and after[1] < 0.01  # measured: 2e-5 m and 5e-5 deg


def test_refinement_waits_for_a_window_of_three():
    truth, depth, K = _window()
    cache = PairCache()
    cache.add(KEYS[:2], _exact_pairs(truth[:2], depth[:2], K), 1)
    outcome = refine_window(KEYS[:MIN_WINDOW - 1], truth[:2], depth[:2], K, 1, cache,
                            Align3rConfig())
    assert outcome.T_world_cam is None and outcome.status == ''
