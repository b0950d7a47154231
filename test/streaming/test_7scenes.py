"""Real frames: 7-Scenes redkitchen (30 frames, Kinect depth and KinectFusion poses) through the
oracle backend at long side 128 (network 96x128).

The oracle turns the real depth and trajectory into pairwise predictions (2 % noise, random pair
scales), so these tests check the engine on real geometry, real depth holes and a real camera
path. Bounds: ATE < 2 % of the 0.48 m path and Abs Rel < 2 % (measured: ATE 0.73-0.75 %,
Abs Rel 0.006-0.007, so ~3x margin; the Kinect depth is not exactly consistent with the tracked
poses, which sets a floor above the synthetic one); metric scale within 3 % of the true one
(measured 0.2 %).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from align3r_ros.engine.engine import Engine, align_sequence
from align3r_ros.evaluation.pose_metrics import evaluate_trajectory
from align3r_ros.structures import Frame
from support.configs import oracle_config
from support.measures import ate_percent, median_scaled_abs_rel
from support.torch_threads import single_torch_thread

K_7SCENES = np.array([[585.0, 0.0, 320.0], [0.0, 585.0, 240.0], [0.0, 0.0, 1.0]])


def load_frames(root: Path):
    frames = []
    for k, color in enumerate(sorted((root / 'color').glob('*.color.jpg'))):
        stem = color.name.replace('.color.jpg', '')
        depth_mm = np.asarray(Image.open(root / 'depth' / f'{stem}.depth.png'))
        depth = np.where((depth_mm > 0) & (depth_mm < 65535), depth_mm / 1000.0, np.nan)
        T_world_cam = np.loadtxt(root / 'pose' / f'{stem}.pose.txt')
        frames.append(Frame(stamp_ns=(k + 1) * 100_000_000,
                            rgb=np.asarray(Image.open(color).convert('RGB')), K=K_7SCENES,
                            gt_depth=depth.astype(np.float32), gt_T_world_cam=T_world_cam))
    return frames


@pytest.fixture(scope='module')
def frames(shared):
    root = shared / 'data' / '7scenes_redkitchen'
    if not (root / 'color').is_dir():
        pytest.skip(f'7-Scenes frames not found under {root}')
    return load_frames(root)


def _depth_errors(results, frames, config):
    """Abs Rel against the GT depth mapped to network resolution (as the oracle saw it)."""
    from align3r_ros.networks.preprocess import plan_transform
    transform = plan_transform(frames[0].shape, config.preprocess.long_side)
    gt = np.stack([transform.map_to_network(f.gt_depth, nearest=True) for f in frames])
    depth = np.stack([r.masked_depth(config.output.conf_threshold) for r in results])
    return depth, gt, median_scaled_abs_rel(depth, gt, np.isfinite(gt))


def test_hierarchical_on_real_frames(frames):
    config = oracle_config(preprocess={'long_side': 128}, clip={'length': 10})
    with single_torch_thread():
        results = align_sequence(frames, config)
    T_gt = np.stack([f.gt_T_world_cam for f in frames])
    T = np.stack([r.T_world_cam for r in results])
    assert ate_percent(T, T_gt) < 2.0
    _, _, (abs_rel, coverage) = _depth_errors(results, frames, config)
    assert abs_rel < 0.02 and coverage > 0.8


def test_streaming_metric_scale_on_real_frames(frames):
    config = oracle_config(preprocess={'long_side': 128}, clip={'length': 10},
                           camera={'intrinsics': 'known'}, scale={'metric': 'on'})
    engine = Engine.from_config(config)
    with single_torch_thread():
        results = [r for f in frames for r in engine.push(f)] + engine.flush()
    assert len(results) == 30 and all(r.is_metric for r in results)
    depth, gt, (abs_rel, _) = _depth_errors(results, frames, config)
    ok = np.isfinite(depth) & np.isfinite(gt)
    assert np.median(depth[ok] / gt[ok]) == pytest.approx(1.0, abs=0.03)
    assert abs_rel < 0.02
    T_gt = np.stack([f.gt_T_world_cam for f in frames])
    T = np.stack([r.T_world_cam for r in results])
    assert ate_percent(T, T_gt) < 2.0
    # metric translations: the Sim(3) fit to the ground truth needs no scale
    assert evaluate_trajectory(T, T_gt).sim3_scale == pytest.approx(1.0, abs=0.03)
