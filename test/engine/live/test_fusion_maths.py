"""Fusion on known views: a keyframe's running depth average and dynamic vote, a keyframe's
depth reprojected into a moved frame, and a frame's fused depth (no engine)."""

from __future__ import annotations

import math

import numpy as np
import torch

from align3r_ros.engine.live.fusion import (fuse_observation, fused_frame_depth,
                                            reprojected_depth)
from align3r_ros.engine.live.keyframes import new_keyframe
from align3r_ros.engine.live.tracking import TrackInput
from align3r_ros.geometry.torch_ops import unproject_depth_map

H, W = 12, 16
K = torch.tensor([[20.0, 0.0, 8.0], [0.0, 20.0, 6.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
LOG5 = math.log(5.0) + 1e-6  # a new keyframe's weight at confidence 5


def _keyframe(depth=2.0, centre=(0.0, 0.0, 0.0)):
    T = torch.eye(4, dtype=torch.float64)
    T[:3, 3] = torch.tensor(centre, dtype=torch.float64)
    return new_keyframe(None, T, torch.full((H, W), depth, dtype=torch.float32),
                        torch.full((H, W), 5.0), torch.zeros((H, W), dtype=torch.bool))


def _observation(depth: torch.Tensor) -> torch.Tensor:
    return unproject_depth_map(depth.float(), K)


def test_fuse_observation_averages_agreeing_depth_and_votes_on_disagreement():
    kf = _keyframe()
    seen = torch.full((H, W), 2.1)
    seen[4:7, 4:7] = 3.0  # an object that moved: 50 % off
    conf = torch.full((H, W), math.e ** 2)  # weight 2
    once = fuse_observation(kf, _observation(seen), conf, threshold=0.1)
    expected = (LOG5 * 2.0 + 2.0 * 2.1) / (LOG5 + 2.0)
    assert abs(float(once.depth[0, 0]) - expected) < 1e-5
    assert abs(float(once.weight[0, 0]) - (LOG5 + 2.0)) < 1e-5
    # the object's core disagrees: not fused, and one vote of two is not a majority yet
    assert float(once.depth[5, 5]) == 2.0 and float(once.votes[5, 5]) == 0.5
    assert not once.dynamic.any() and once.observations == 1
    twice = fuse_observation(once, _observation(seen), conf, threshold=0.1)
    assert bool(twice.dynamic[5, 5]) and int(twice.dynamic.sum()) == 5  # the cross-shaped core
    assert abs(float(twice.confidence.min()) - math.e ** 2) < 1e-5  # the max of both


def test_reprojected_depth_carries_a_keyframe_into_a_moved_frame():
    kf = _keyframe(depth=2.0)
    T = torch.eye(4, dtype=torch.float64)
    T[0, 3] = 0.1  # 0.1 right at depth 2 with fx 20: every pixel lands one column right
    depth = torch.full((H, W), 2.05)
    estimate, weight = reprojected_depth(depth, T, kf, K, threshold=0.1)
    inside = np.s_[:, :W - 1]
    np.testing.assert_allclose(estimate[inside].numpy(), 2.0, atol=1e-5)
    np.testing.assert_allclose(weight[inside].numpy(), LOG5, atol=1e-5)
    # the last column lands outside the keyframe: no estimate
    assert not weight[:, W - 1].any() and not estimate[:, W - 1].any()
    # 30 % off disagrees (occlusion or motion): no estimate either
    _, far = reprojected_depth(torch.full((H, W), 2.6), T, kf, K, threshold=0.1)
    assert not far.any()


def test_fused_frame_depth_weights_own_maps_and_keyframes_and_skips_dynamic_pixels():
    kf = _keyframe(depth=2.0)
    own = torch.full((H, W), 2.2)
    conf = torch.full((H, W), math.e)  # own weight 1 (one edge)
    edge = TrackInput(pts_i=None, conf_i=conf, pts_j=None, conf_j=conf, X_world=None,
                      usable=None)
    dynamic = torch.zeros((H, W), dtype=torch.bool)
    dynamic[0, 0] = True
    fused = fused_frame_depth(own, [edge], dynamic, torch.eye(4, dtype=torch.float64), K, [kf],
                              threshold=0.15)
    expected = (2.2 * 1.0 + 2.0 * LOG5) / (1.0 + LOG5)
    assert abs(float(fused[5, 5]) - expected) < 1e-5
    assert abs(float(fused[0, 0]) - 2.2) < 1e-6  # dynamic: its own depth only
