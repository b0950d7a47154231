"""Live mode on real frames: 7-Scenes redkitchen (30 frames, Kinect depth, KinectFusion poses)
through the oracle at long side 128, the bounds of the clip-mode test (test_7scenes.py):
ATE < 2 % of the path, Abs Rel < 2 %. Measured while developing: live ATE 0.86 %, Abs Rel 0.0083
(clip mode: 0.66 %, 0.0065; at long side 512: live 0.78 % / 0.0076, clip 1.06 % / 0.0053)."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.engine.engine import Engine
from align3r_ros.evaluation.datasets import DatasetKind, load_sequence
from align3r_ros.networks.preprocess import plan_transform
from support.configs import live_config
from support.live_runs import run_per_push
from support.measures import ate_percent, median_scaled_abs_rel, poses


@pytest.fixture(scope='module')
def frames(shared):
    root = shared / 'data' / '7scenes_redkitchen'
    if not (root / 'color').is_dir():
        pytest.skip(f'7-Scenes frames not found under {root}')
    return list(load_sequence(DatasetKind.SEVEN_SCENES, root, start=0, frames=0).frames)


def test_live_on_real_frames(frames):
    config = live_config(preprocess={'long_side': 128})
    engine = Engine.from_config(config)
    per_push = run_per_push(engine, frames)
    assert [len(out) for out in per_push] == [1] * len(frames) + [0]
    results = [out[0] for out in per_push[:-1]]
    assert ate_percent(poses(results), np.stack([f.gt_T_world_cam for f in frames])) < 2.0
    transform = plan_transform(frames[0].shape, config.preprocess.long_side)
    gt = np.stack([transform.map_to_network(f.gt_depth, nearest=True) for f in frames])
    abs_rel, coverage = median_scaled_abs_rel(np.stack([r.depth for r in results]), gt,
                                              np.isfinite(gt))
    assert abs_rel < 0.02 and coverage > 0.8
    assert engine.stats.keyframes_added >= 2 and engine.stats.resets == 0
