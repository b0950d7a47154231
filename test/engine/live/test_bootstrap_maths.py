"""Starting a live map from one frame's own point maps, on known maps (no engine)."""

from __future__ import annotations

import numpy as np
import torch

from align3r_ros.config import Align3rConfig
from align3r_ros.engine.live.bootstrap import at_median, focal_intrinsics, map_start
from align3r_ros.engine.live.pairs import PairMaps
from align3r_ros.geometry.torch_ops import unproject_depth_map

H, W = 24, 32
K = torch.tensor([[30.0, 0.0, 16.0], [0.0, 30.0, 12.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _points(seed=0):
    depth = torch.tensor(np.random.default_rng(seed).uniform(2.0, 4.0, size=(H, W)))
    return unproject_depth_map(depth, K).float(), depth.float()


def test_a_self_pair_that_agrees_starts_a_map_at_its_depth_and_focal():
    pts, depth = _points()
    conf = torch.full((H, W), 5.0)
    start = map_start(PairMaps(pts, conf, pts.clone(), conf), True, Align3rConfig())
    assert start.failure == '' and not start.dynamic.any() and bool(start.confident.all())
    torch.testing.assert_close(start.depth, depth)
    np.testing.assert_allclose(focal_intrinsics(start, (H, W))[0, 0], 30.0, rtol=1e-3)


def test_disagreeing_maps_mark_dynamic_pixels_or_refuse_to_start():
    pts, _ = _points(1)
    conf = torch.full((H, W), 5.0)
    moved = pts.clone()
    moved[8:13, 8:13] *= 1.5
    start = map_start(PairMaps(pts, conf, moved, conf), True, Align3rConfig())
    assert start.failure == '' and bool(start.dynamic[10, 10]) and not start.dynamic[0, 0]
    # the same pair as (f, k) after a loss: f's own map alone, no mask
    alone = map_start(PairMaps(pts, conf, moved, conf), False, Align3rConfig())
    assert not alone.dynamic.any()
    torch.testing.assert_close(alone.points, pts)
    everywhere = map_start(PairMaps(pts, conf, 2.0 * pts, conf), True, Align3rConfig())
    # all disagree; the opening leaves the four corners (no cross fits there) static
    assert everywhere.failure == ('not initialised: too few confident static pixels '
                                  '(4 < 200; 768 confident, 764 dynamic)')
    unsure = map_start(PairMaps(pts, torch.full((H, W), 2.0), pts, conf), True, Align3rConfig())
    assert '0 confident' in unsure.failure  # below align.min_conf_thr (3)


def test_after_a_loss_the_new_map_continues_at_the_last_median_depth():
    pts, depth = _points(2)
    conf = torch.full((H, W), 5.0)
    start = map_start(PairMaps(pts, conf, pts, conf), False, Align3rConfig())
    scaled = at_median(start, 6.0)
    assert abs(float(scaled.median()) - 6.0) < 1e-5
    torch.testing.assert_close(scaled / start.depth, torch.full((H, W), float(scaled[0, 0]
                                                                                / depth[0, 0])))
    assert at_median(start, None) is start.depth
