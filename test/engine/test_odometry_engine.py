"""The engine with the robot's odometry (``Frame.T_odom_cam``), oracle backend on the shared
7-Scenes frames with simulated odometry (:mod:`align3r_ros.benchmarks.odometry_sim`).

Quick checks at long side 64 on the first 20 frames; the issue's targets (scale error, metric
ATE against the odometry's own and against vision's Sim(3) ATE, the slip) at long side 128 on
64 frames are ``slow``. Each target was seen failing once with odometry ignored
(``PreparedFrame.T_odom_cam`` forced to None in ``frame_prep``).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np
import pytest

from align3r_ros.benchmarks.odometry import (depth_scale_error, run_metrics, se3_ate,
                                             window_ate)
from align3r_ros.benchmarks.odometry_sim import OdometryNoise, simulate_odometry
from align3r_ros.benchmarks.stream_cases import ping_pong
from align3r_ros.config_io import load_config
from align3r_ros.engine.engine import Engine, align_sequence
from align3r_ros.engine.feed import collect_results


@lru_cache(maxsize=None)
def _stream(shared_dir: str, count: int):
    from pathlib import Path

    from align3r_ros.evaluation.datasets import DatasetKind, load_sequence
    seq = load_sequence(DatasetKind.SEVEN_SCENES, Path(shared_dir) / 'data' /
                        '7scenes_redkitchen')
    period = int(seq.frames[1].stamp_ns - seq.frames[0].stamp_ns)
    return tuple(ping_pong(seq.frames, count, period))


def _config(long_side: int, **groups):
    base = {'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': long_side},
            'output': {'resolution': 'input'}, 'runtime': {'threads': 1},
            'camera': {'intrinsics': 'known'}}  # a robot's CameraInfo (the focal's error
    # would otherwise enter depth against the metric translations)
    for name, values in groups.items():
        base[name] = {**base.get(name, {}), **values}
    return load_config(base)


def _with_odometry(frames, noise=OdometryNoise()):
    odometry = simulate_odometry(np.stack([f.gt_T_world_cam for f in frames]), noise)
    return [dataclasses.replace(f, T_odom_cam=T) for f, T in zip(frames, odometry)], odometry


def _run(frames, config):
    engine = Engine.from_config(config)
    return collect_results(engine, frames), engine.stats


@pytest.fixture(scope='module')
def short(shared):
    """The first 20 frames (0.33 m of camera path), long side 64, with odometry and a metric
    prior twice too far (``scale.metric: on``)."""
    frames = [dataclasses.replace(f, prior=2.0 * f.gt_depth) for f in _stream(str(shared), 20)]
    frames, odometry = _with_odometry(frames)
    results, stats = _run(frames, _config(64, scale={'metric': 'on'}))
    return frames, odometry, results, stats


def test_odometry_gives_metres_in_its_world_and_takes_precedence_over_a_prior(short):
    frames, odometry, results, stats = short
    by_odometry = [r for r in results if r.scale_source == 'odometry']
    assert len(by_odometry) >= 3 and results[-1] in by_odometry
    assert stats.scale_source == 'odometry' and stats.odometry_frames == 20
    assert {r.scale_source for r in results} == {'prior', 'odometry'}  # the prior until then
    np.testing.assert_allclose(results[0].T_world_cam[:3, :3], odometry[0][:3, :3],
                               atol=1e-9)
    for r, f, T_odom in zip(results, frames, odometry):
        if r.scale_source == 'odometry':  # metres, where the odometry puts the camera
            assert np.linalg.norm(r.T_world_cam[:3, 3] - T_odom[:3, 3]) < 0.05
            assert depth_scale_error(r.depth, f.gt_depth) < 0.05
        else:  # the prior's metres (2x) while the odometry baseline builds up
            assert depth_scale_error(r.depth, f.gt_depth) > 0.8
            assert 'metric scale from odometry' not in r.status


def test_unusable_odometry_is_ignored_and_outputs_stay_finite(shared):
    frames, _ = _with_odometry(list(_stream(str(shared), 8)))
    frames[3] = dataclasses.replace(frames[3], T_odom_cam=np.full((4, 4), np.nan))
    frames[4] = dataclasses.replace(frames[4], T_odom_cam=2.0 * np.eye(4))
    results, stats = _run(frames, _config(64))
    assert len(results) == 8 and stats.odometry_frames == 6 and stats.frames_dropped == 0
    assert all(np.isfinite(r.T_world_cam).all() for r in results)


@pytest.mark.slow
def test_clip_and_offline_modes_take_their_scale_from_odometry(shared):
    frames, _ = _with_odometry(list(_stream(str(shared), 20)))
    config = _config(128, stream={'mode': 'clip'})
    results, stats = _run(frames, config)
    later = [r for r in results[10:] if r.is_metric]
    assert later and all(r.scale_source == 'odometry' for r in later)
    # within 10 %: clip stages still carry the temporal smoothing term (align.temporal_weight),
    # which shortens a clip's baselines against its depth (measured: 6 %; issue 18 drops it)
    errors = [depth_scale_error(r.depth, frames[results.index(r)].gt_depth) for r in later]
    assert max(errors) < 0.1
    offline = align_sequence(frames, config)
    assert all(r.is_metric and r.scale_source == 'odometry' for r in offline)
    errors = [depth_scale_error(r.depth, f.gt_depth) for r, f in zip(offline, frames)]
    assert max(errors) < 0.1


@pytest.fixture(scope='module')
def targets(shared):
    """vision / odometry / slip runs: long side 128, 64 frames, the slip at 32..41."""
    frames = list(_stream(str(shared), 64))
    config = _config(128)
    slip = range(32, 42)
    with_odometry, odometry = _with_odometry(frames)
    with_slip, slipped = _with_odometry(frames, OdometryNoise(slip=(slip.start, slip.stop)))
    out = {'frames': frames, 'slip': slip}
    out['vision'] = _run(frames, config)[0]
    out['odometry'] = _run(with_odometry, config)[0], odometry
    out['slip_run'] = _run(with_slip, config)[0], slipped
    return out


@pytest.mark.slow
def test_scale_error_once_the_camera_moved_0_3_m(targets):
    """The issue's target: <= 3 % on every frame after 0.3 m of camera path. Measured here:
    median 1.1 %, max 2.6 % (the odometry's own 1 % scale error included); 0.7 % / 2.2 % at
    long side 512 (docs/performance.md). With odometry ignored no frame is metric (fails)."""
    results, odometry = targets['odometry']
    errors = run_metrics(results, targets['frames'], odometry, None)['scale_error_after_0_3m']
    assert errors['frames'] >= 30
    assert errors['max'] <= 0.03


@pytest.mark.slow
def test_metric_ate_without_scale_fit_beats_odometry_and_vision_bounds(targets):
    frames = targets['frames']
    results, odometry = targets['odometry']
    metrics = run_metrics(results, frames, odometry, None)
    vision = run_metrics(targets['vision'], frames, None, None)
    assert metrics['ate_se3_metric_m'] <= metrics['odometry_ate_se3_metric_frames_m']
    assert metrics['ate_se3_metric_m'] <= 1.5 * vision['ate_sim3_m']
    assert metrics['disagreeing_frames'] == []  # no slip, no disagreement


@pytest.mark.slow
def test_slip_is_reported_outputs_stay_finite_and_accuracy_recovers(targets):
    frames, slip = targets['frames'], targets['slip']
    results, slipped = targets['slip_run']
    metrics = run_metrics(results, frames, slipped, slip)
    assert metrics['finite'] and all(np.isfinite(r.depth).any() for r in results)
    # the scale survives the slip (measured 2.6 %; 12.9 % at long side 512 when a
    # disagreement emptied the fit instead of starting a segment of it)
    assert metrics['scale_error_after_0_3m']['max'] <= 0.03
    assert len(metrics['slip_frames_reported']) >= len(slip) // 2
    assert all(k in slip or k < slip.stop + 5 for k in metrics['disagreeing_frames']
               if k >= slip.start)  # reported at the slip (and while the span covers it)
    after = range(slip.stop, slip.stop + 20)
    clean = window_ate(targets['odometry'][0], frames, after)
    assert window_ate(results, frames, after) <= 2.0 * clean
    metric = [k for k, r in enumerate(results) if r.is_metric]
    est = np.stack([results[k].T_world_cam[:3, 3] for k in metric])
    gt = np.stack([frames[k].gt_T_world_cam[:3, 3] for k in metric])
    assert se3_ate(est, gt) < se3_ate(slipped[metric, :3, 3], gt)
