"""align_pairs on small synthetic rigid problems with ground truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from align3r_ros.align import FrameAnchor, align_pairs, alignment_residuals
from align3r_ros.align.init_mst import mst_initialisation
from align3r_ros.align.problem import build_problem
from align3r_ros.config import AlignConfig
from align3r_ros.errors import AlignmentError, InputError
from align3r_ros.geometry.sim3 import umeyama_alignment
from align3r_ros.structures import PairPredictions
from support.align_problem import ate, depth_abs_rel, make_problem

FAST = AlignConfig(solver='fast', temporal_weight=0.0)


@pytest.fixture(scope='module')
def small():
    return make_problem(num_frames=8, h=24, w=40, window=3, noise=0.02, seed=3)


@pytest.fixture(scope='module')
def fast_result(small):
    return align_pairs(small.predictions, FAST)


def _mst_errors(problem):
    prob = build_problem(problem.predictions, FAST)
    tree = mst_initialisation(prob)
    return ate(tree.T_world_cam, problem.gt_T_world_cam)


def test_fast_solver_accuracy(small, fast_result):
    r = fast_result
    N = small.gt_depth.shape[0]
    assert r.T_world_cam.shape == (N, 4, 4) and r.depth.shape == small.gt_depth.shape
    assert r.depth.dtype == np.float32 and r.K.shape == (N, 3, 3)
    assert np.isfinite(r.loss) and r.iterations > 0
    assert depth_abs_rel(r.depth, small.gt_depth) < 0.01
    assert ate(r.T_world_cam, small.gt_T_world_cam) < 0.01
    assert ate(r.T_world_cam, small.gt_T_world_cam) < _mst_errors(small)
    np.testing.assert_allclose(r.K[:, 0, 0], small.K[:, 0, 0], rtol=0.02)
    # Gauge: geometric mean of the pairwise scales pinned to 0.5
    assert np.exp(np.log(r.pw_scale).mean()) == pytest.approx(0.5, rel=1e-5)


@pytest.mark.slow  # 300 Adam iterations: ~30 s on a loaded 2-core machine
def test_fast_reaches_adam_loss(small, fast_result):
    adam = align_pairs(small.predictions, dataclasses.replace(FAST, solver='adam',
                                                              iterations=300))
    assert fast_result.loss <= adam.loss * 1.002
    assert (ate(fast_result.T_world_cam, small.gt_T_world_cam)
            <= ate(adam.T_world_cam, small.gt_T_world_cam) * 1.05)


def test_known_intrinsics(small, fast_result):
    r = align_pairs(small.predictions, FAST, K_known=small.K)
    np.testing.assert_array_equal(r.K, small.K)
    base_rel = depth_abs_rel(fast_result.depth, small.gt_depth)
    assert depth_abs_rel(r.depth, small.gt_depth) <= base_rel * 1.05
    assert (ate(r.T_world_cam, small.gt_T_world_cam)
            <= ate(fast_result.T_world_cam, small.gt_T_world_cam) * 1.05)


def _sub_problem(problem, first, last):
    """Edges with both frames in [first, last], re-indexed from 0."""
    pred = problem.predictions
    keep = ((pred.edges >= first) & (pred.edges <= last)).all(1)
    return PairPredictions(edges=pred.edges[keep] - first, pts_i=pred.pts_i[keep],
                           pts_j=pred.pts_j[keep], conf_i=pred.conf_i[keep],
                           conf_j=pred.conf_j[keep])


def _sim3_scale(T_est, T_gt):
    return umeyama_alignment(T_est[:, :3, 3], T_gt[:, :3, 3]).scale


@pytest.mark.parametrize('with_depth', [True, False])
def test_anchors_keep_pose_and_share_scale(with_depth):
    scene = make_problem(num_frames=12, h=24, w=40, window=3, noise=0.01, seed=5)
    gt = scene.gt_T_world_cam
    a = align_pairs(_sub_problem(scene, 0, 6), FAST)
    anchors = [FrameAnchor(0, a.T_world_cam[5], a.depth[5] if with_depth else None),
               FrameAnchor(1, a.T_world_cam[6], a.depth[6] if with_depth else None)]
    b = align_pairs(_sub_problem(scene, 5, 11), FAST, anchors=anchors)
    np.testing.assert_array_equal(b.T_world_cam[0], a.T_world_cam[5])
    np.testing.assert_array_equal(b.T_world_cam[1], a.T_world_cam[6])
    if with_depth:
        np.testing.assert_array_equal(b.depth[:2], a.depth[5:7])
    s_a = _sim3_scale(a.T_world_cam, gt[:7])
    s_b = _sim3_scale(b.T_world_cam, gt[5:])
    assert s_b == pytest.approx(s_a, rel=0.03)
    joined = np.concatenate([a.T_world_cam, b.T_world_cam[2:]])
    assert ate(joined, gt) < 0.02


def test_single_pose_anchor_keeps_pin(small):
    T0 = np.eye(4)
    T0[:3, 3] = [1.0, 2.0, 3.0]
    r = align_pairs(small.predictions, FAST, anchors=[FrameAnchor(2, T0)])
    np.testing.assert_array_equal(r.T_world_cam[2], T0)
    assert np.exp(np.log(r.pw_scale).mean()) == pytest.approx(0.5, rel=1e-4)
    assert ate(r.T_world_cam, small.gt_T_world_cam) < 0.01


def test_adam_with_anchor_and_warm_start(small, fast_result):
    cfg = dataclasses.replace(FAST, solver='adam', iterations=20, lr=1e-3)
    anchor = FrameAnchor(0, fast_result.T_world_cam[0], fast_result.depth[0])
    r = align_pairs(small.predictions, cfg, init=fast_result, anchors=[anchor])
    np.testing.assert_array_equal(r.T_world_cam[0], fast_result.T_world_cam[0])
    np.testing.assert_array_equal(r.depth[0], fast_result.depth[0])
    assert r.iterations == 20
    assert ate(r.T_world_cam, small.gt_T_world_cam) < 0.02


def test_residuals_flag_corrupted_pixels(small, fast_result):
    res = alignment_residuals(fast_result, small.predictions)
    assert res.shape == small.gt_depth.shape and res.dtype == np.float32
    assert np.nanmedian(res) < 0.05
    pred = small.predictions
    pts_i = pred.pts_i.copy()
    rows = pred.edges[:, 0] == 4
    pts_i[rows, 5:10, 5:10] *= 1.5                      # a "moving object" in frame 4
    bad = dataclasses.replace(pred, pts_i=pts_i)
    weights = np.ones(small.gt_depth.shape, np.float32)
    weights[4, 5:10, 5:10] = 0.0
    r = align_pairs(bad, FAST, pixel_weights=weights)
    res = alignment_residuals(r, bad)
    assert np.nanmedian(res[4, 5:10, 5:10]) > 5 * np.nanmedian(res[4])
    assert depth_abs_rel(r.depth, small.gt_depth) < 0.02


def test_nan_inputs_are_sanitised(small):
    pred = small.predictions
    pts_j = pred.pts_j.copy()
    pts_j[0, :4] = np.nan
    conf_i = pred.conf_i.copy()
    conf_i[1, 2, 3] = np.inf
    r = align_pairs(dataclasses.replace(pred, pts_j=pts_j, conf_i=conf_i), FAST)
    assert np.isfinite(r.T_world_cam).all() and np.isfinite(r.depth).all()
    assert ate(r.T_world_cam, small.gt_T_world_cam) < 0.01


def test_degenerate_problems_raise(small):
    pred = small.predictions
    with pytest.raises(AlignmentError):  # every confidence <= 1: no weight anywhere
        align_pairs(dataclasses.replace(pred, conf_i=np.ones_like(pred.conf_i),
                                        conf_j=np.ones_like(pred.conf_j)), FAST)
    keep = (pred.edges != 3).all(1)
    with pytest.raises(AlignmentError):  # frame 3 appears in no edge
        align_pairs(PairPredictions(pred.edges[keep], pred.pts_i[keep], pred.pts_j[keep],
                                    pred.conf_i[keep], pred.conf_j[keep]), FAST)
    with pytest.raises(InputError):
        align_pairs(pred, FAST, K_known=np.eye(3)[None])
    with pytest.raises(InputError):
        align_pairs(pred, FAST, anchors=[FrameAnchor(99, np.eye(4))])
