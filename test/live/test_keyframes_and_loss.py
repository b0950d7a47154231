"""Keyframes by content, tracking loss and recovery (live mode, synthetic oracle frames)."""

from __future__ import annotations

import dataclasses

import numpy as np

from align3r_ros.synthetic import make_sequence
from support.live_runs import live_engine, run_per_push, turned
from support.measures import poses


def _results(per_push):
    assert all(len(out) == 1 for out in per_push[:-1]) and per_push[-1] == []
    return [out[0] for out in per_push[:-1]]


def test_static_camera_adds_no_keyframe():
    frames = make_sequence(12, 48, 64, seed=4, num_movers=0, speed=0.0).frames
    engine, _ = live_engine()
    results = _results(run_per_push(engine, frames))
    assert engine.stats.keyframes_added == 1  # the bootstrap only
    centres = poses(results)[:, :3, 3]
    assert np.abs(centres - centres[0]).max() < 0.02 * np.nanmedian(results[0].depth)
    assert all(r.status == '' for r in results)


def test_repeated_frame_adds_no_keyframe():
    frame = make_sequence(1, 48, 64, seed=2, num_movers=0).frames[0]
    frames = [dataclasses.replace(frame, stamp_ns=frame.stamp_ns + k) for k in range(8)]
    engine, _ = live_engine()
    results = _results(run_per_push(engine, frames))
    assert engine.stats.keyframes_added == 1
    assert np.isfinite(poses(results)).all()
    T = poses(results)
    np.testing.assert_allclose(T[:, :3, :3], np.repeat(np.eye(3)[None], 8, 0), atol=5e-3)
    assert np.abs(T[:, :3, 3]).max() < 0.02 * np.nanmedian(results[0].depth)


def test_moving_camera_adds_keyframes_by_content_not_every_frame():
    frames = make_sequence(30, 48, 64, seed=0, num_movers=0, speed=2.0).frames
    engine, _ = live_engine()
    _results(run_per_push(engine, frames))
    added = engine.stats.keyframes_added
    assert 3 <= added <= 15
    # the rule, not a period: a faster camera needs more keyframes over the same frames
    slow, _ = live_engine()
    _results(run_per_push(slow, make_sequence(30, 48, 64, seed=0, num_movers=0).frames))
    assert slow.stats.keyframes_added < added


def test_sudden_turn_loses_tracking_and_reinitialises():
    seq = make_sequence(16, 48, 64, seed=1, num_movers=0)
    frames = seq.frames[:8] + [turned(f, 1, 0, 8 + k) for k, f in enumerate(seq.frames[8:])]
    engine, backend = live_engine()
    results = _results(run_per_push(engine, frames))
    assert all(r.status == '' for r in results[:8])
    assert 'tracking lost' in results[8].status and 're-initialised' in results[8].status
    assert engine.stats.tracking_losses == 1
    assert all(r.status == '' for r in results[9:])  # tracking again in the new map
    assert np.isfinite(poses(results)).all()
    assert np.isfinite(results[8].depth).mean() > 0.5
    # continuity: the new map starts where the last tracked pose was
    np.testing.assert_allclose(results[8].T_world_cam, results[7].T_world_cam, atol=1e-9)
    assert engine.held_frames <= engine.config.live.window
    assert len(backend.live) <= engine.config.live.window


def test_keyframe_poses_expose_the_refined_window_without_rewriting_results():
    frames = make_sequence(30, 48, 64, seed=0, num_movers=0, speed=2.0).frames
    engine, _ = live_engine()
    results = _results(run_per_push(engine, frames))
    published = {r.stamp_ns: r.T_world_cam for r in results}
    keyframes = engine.keyframe_poses()
    assert 3 <= len(keyframes) <= engine.config.live.window
    stamps = [kf.stamp_ns for kf in keyframes]
    assert stamps == sorted(stamps) and set(stamps) <= set(published)
    assert [kf.is_metric for kf in keyframes] == [results[-1].is_metric] * len(keyframes)
    # the newest keyframe was refined at its own push: its result carries the refined pose
    np.testing.assert_allclose(keyframes[-1].T_world_cam, published[stamps[-1]], atol=1e-9)
    # older ones were refined again later: the window moved, the published poses did not
    moved = [np.abs(kf.T_world_cam - published[kf.stamp_ns]).max() for kf in keyframes[:-1]]
    assert max(moved) > 0


def test_keyframe_poses_are_empty_in_clip_mode_and_after_a_reset():
    frames = make_sequence(8, 48, 64, seed=0, num_movers=0, speed=2.0).frames
    clip, _ = live_engine(stream={'mode': 'clip'})
    run_per_push(clip, frames)
    assert clip.keyframe_poses() == []
    engine, _ = live_engine()
    run_per_push(engine, frames)
    assert engine.keyframe_poses()
    engine.push(dataclasses.replace(frames[0], stamp_ns=frames[0].stamp_ns - 1))  # backwards
    assert [kf.stamp_ns for kf in engine.keyframe_poses()] == [frames[0].stamp_ns - 1]
