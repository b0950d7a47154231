"""Bad input in live mode: never an exception, never a stall, finite poses, NaN depth + status."""

from __future__ import annotations

import dataclasses

import numpy as np

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.engine import Engine
from align3r_ros.synthetic import make_sequence
from support.backends import KeyedRewriteBackend, unit_confidence, with_nan_points
from support.configs import live_config
from support.live_runs import live_engine, run_per_push


def _results(per_push):
    assert all(len(out) == 1 for out in per_push[:-1]) and per_push[-1] == []
    results = [out[0] for out in per_push[:-1]]
    for r in results:
        assert np.isfinite(r.T_world_cam).all() and np.isfinite(r.K).all()
        assert r.depth.shape == r.confidence.shape == r.dynamic_mask.shape
    return results


def test_all_low_confidence_frame_gives_nan_depth_and_status_then_recovers():
    frames = make_sequence(10, 48, 64, seed=3, num_movers=0).frames
    bad = {int(frames[5].stamp_ns)}
    config = live_config()
    backend = KeyedRewriteBackend(OracleBackend.from_config(config), bad, unit_confidence)
    engine = Engine(config, backend)
    results = _results(run_per_push(engine, frames))
    assert not np.isfinite(results[5].depth).any() and 'tracking failed' in results[5].status
    np.testing.assert_allclose(results[5].T_world_cam, results[4].T_world_cam)
    assert all(r.status == '' for r in results[6:]) and engine.stats.resets == 0
    assert all(np.isfinite(r.depth).mean() > 0.5 for r in results[6:])


def test_all_low_confidence_first_frame_is_not_a_map():
    frames = make_sequence(4, 48, 64, seed=3, num_movers=0).frames
    config = live_config()
    backend = KeyedRewriteBackend(OracleBackend.from_config(config),
                                  {int(frames[0].stamp_ns)}, unit_confidence)
    results = _results(run_per_push(Engine(config, backend), frames))
    assert 'not initialised' in results[0].status and not np.isfinite(results[0].depth).any()
    assert all(r.status == '' for r in results[2:])
    assert np.isfinite(results[1].depth).mean() > 0.5  # frame 1 started the map


def test_all_dynamic_frame_keeps_pose_and_masks_it():
    seq = make_sequence(10, 48, 64, seed=0, num_movers=1)
    frames = list(seq.frames)
    frames[6] = dataclasses.replace(frames[6], gt_dynamic_mask=np.ones((48, 64), bool))
    engine, _ = live_engine()
    results = _results(run_per_push(engine, frames))
    assert results[6].dynamic_mask.mean() > 0.5
    # the keyframes' static pixels still fix the pose: it stays on the path
    step = np.linalg.norm(results[7].T_world_cam[:3, 3] - results[5].T_world_cam[:3, 3])
    off = np.linalg.norm(results[6].T_world_cam[:3, 3]
                         - 0.5 * (results[5].T_world_cam[:3, 3] + results[7].T_world_cam[:3, 3]))
    assert off < step


def test_nan_predictions_give_finite_results():
    frames = make_sequence(8, 48, 64, seed=3, num_movers=0).frames
    engine, _ = live_engine(with_nan_points)
    results = _results(run_per_push(engine, frames))
    assert all(np.isfinite(r.depth).mean() > 0.5 for r in results)


def test_size_change_resets_the_world_and_keeps_streaming():
    small = make_sequence(5, 32, 48, seed=1, num_movers=0).frames
    large = make_sequence(5, 48, 64, seed=2, num_movers=0).frames
    shift = small[-1].stamp_ns + 1
    large = [dataclasses.replace(f, stamp_ns=f.stamp_ns + shift) for f in large]
    engine, backend = live_engine(output={'resolution': 'input'}, preprocess={'long_side': 48})
    results = _results(run_per_push(engine, small + large))
    assert engine.stats.resets == 1
    assert results[4].depth.shape == (32, 48) and results[5].depth.shape == (48, 64)
    assert 'size changed' in results[5].status
    np.testing.assert_allclose(results[5].T_world_cam, np.eye(4), atol=1e-9)  # a new world
    assert all(r.status == '' for r in results[6:])
    assert len(backend.live) <= engine.config.live.window


def test_unusable_frames_are_dropped_before_the_aligner():
    frames = make_sequence(6, 48, 64, seed=1, num_movers=0).frames
    gray = dataclasses.replace(frames[2], rgb=frames[2].rgb[..., 0])
    engine, _ = live_engine()
    per_push = run_per_push(engine, frames[:2] + [gray] + frames[3:])
    assert per_push[2] == [] and engine.stats.frames_dropped == 1
    assert [r.stamp_ns for out in per_push for r in out] == \
        [f.stamp_ns for f in frames[:2] + frames[3:]]
