"""The keyframe measures and the rule built on them, on known views: covisibility, parallax,
the dynamic rule, is_lost / needs_keyframe (no engine)."""

from __future__ import annotations

import math

import numpy as np
import torch

from align3r_ros.config import LiveConfig
from align3r_ros.engine.live.keyframes import (covisibility, dynamic_from_disagreement,
                                               is_lost, needs_keyframe, new_keyframe, parallax)
from align3r_ros.engine.steps.dynamic_mask import detect_dynamic
from align3r_ros.geometry.torch_ops import unproject_depth_map

H, W = 12, 16
K = torch.tensor([[20.0, 0.0, 8.0], [0.0, 20.0, 6.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _keyframe(T: torch.Tensor, depth: float = 2.0):
    d = torch.full((H, W), depth, dtype=torch.float32)
    return new_keyframe(None, T, d, torch.full((H, W), 5.0), torch.zeros((H, W), dtype=bool))


def _at(centre) -> torch.Tensor:
    T = torch.eye(4, dtype=torch.float64)
    T[:3, 3] = torch.tensor(centre, dtype=torch.float64)
    return T


def test_covisibility_counts_points_inside_the_image_and_in_front():
    kf = _keyframe(_at([1.0, 0.0, 0.0]))
    # in the keyframe's camera: centre pixel at depth 2, the image corner (-0.5, -0.5) edge,
    # a point left of the image, and one behind the camera
    cam = torch.tensor([[0.0, 0.0, 2.0], [(-0.5 - 8.0) / 20.0 * 2.0, (-0.5 - 6.0) / 20.0 * 2.0,
                                           2.0], [-3.0, 0.0, 2.0], [0.0, 0.0, -2.0]],
                       dtype=torch.float64)
    world = cam + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert covisibility(world, kf, K, (H, W)) == 0.5
    assert covisibility(world[:0], kf, K, (H, W)) == 0.0
    # turned 180 degrees about y, the same points are all behind it
    turned = kf.T_world_cam.clone()
    turned[:3, :3] = torch.diag(torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64))
    assert covisibility(world[:2], _keyframe(turned), K, (H, W)) == 0.0


def test_parallax_is_the_baseline_over_the_median_depth():
    kf = _keyframe(_at([0.0, 0.0, 0.0]))
    assert math.isclose(parallax(_at([0.3, 0.4, 0.0]), kf, 2.5), 0.2)
    assert parallax(_at([0.3, 0.4, 0.0]), kf, 0.0) == math.inf


def test_the_keyframe_rule_and_the_loss_rule_use_their_own_thresholds():
    live = LiveConfig(keyframe_overlap=0.8, keyframe_parallax=0.1, lost_overlap=0.2,
                      lost_inliers=0.3)
    assert not needs_keyframe(0.9, 0.05, live)
    assert needs_keyframe(0.79, 0.05, live) and needs_keyframe(0.9, 0.11, live)
    assert not is_lost(0.5, 0.5, live)
    assert is_lost(0.19, 0.9, live) and is_lost(0.9, 0.29, live)


def test_dynamic_rule_marks_a_disagreeing_object_but_not_an_isolated_pixel():
    points = unproject_depth_map(torch.full((H, W), 2.0, dtype=torch.float64), K)
    other = points.clone()
    other[4:7, 4:7] *= 1.5   # a 3x3 object 50 % off: dynamic
    other[1, 12] *= 1.5      # a lone pixel: noise, removed by the opening
    other[9, 2] *= 1.05      # 5 % off: below the threshold
    conf = torch.full((H, W), 5.0, dtype=torch.float64)
    mask = dynamic_from_disagreement(points, other, conf, threshold=0.1)
    # the opening with a cross keeps the object's cross-shaped core, nothing else
    expected = torch.zeros((H, W), dtype=torch.bool)
    expected[5, 4:7] = expected[4:7, 5] = True
    assert torch.equal(mask, expected)
    # the same rule as the numpy one the solve uses (steps.dynamic_mask.detect_dynamic)
    distance = 0.5 * (points.norm(dim=-1) + other.norm(dim=-1))
    residual = ((points - other).norm(dim=-1) / distance).numpy()
    assert np.array_equal(detect_dynamic(residual[None], conf.numpy()[None], 0.1)[0],
                          mask.numpy())
    # pixels without any confidence are never dynamic
    assert not dynamic_from_disagreement(points, other, torch.ones_like(conf), 0.1).any()
