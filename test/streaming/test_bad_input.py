"""Bad input never stops the engine, never yields NaN poses, never grows its state."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.engine import Engine
from align3r_ros.synthetic import make_sequence
from support.backends import RecordingBackend, with_nan_points, with_unit_confidence
from support.configs import oracle_config
from support.torch_threads import single_torch_thread

SMALL = {'preprocess': {'long_side': 48}, 'clip': {'length': 4, 'keyframe_window': 3}}


def _engine(rewrite=None, **groups):
    config = oracle_config(**{**SMALL, **groups})
    backend = RecordingBackend(OracleBackend.from_config(config), rewrite)
    return Engine(config, backend), backend


def _stream(engine, frames):
    results = []
    with single_torch_thread():
        for frame in frames:
            results += engine.push(frame)
        results += engine.flush()
    return results


def _assert_sane(results):
    for r in results:
        assert np.isfinite(r.T_world_cam).all() and np.isfinite(r.K).all()
        assert r.depth.shape == r.confidence.shape == r.dynamic_mask.shape


def test_duplicate_stamp_is_dropped_and_a_backward_stamp_resets_the_world():
    frames = make_sequence(8, 32, 48, seed=1, num_movers=0).frames
    engine, backend = _engine()
    with single_torch_thread():
        assert [r for f in frames[:3] for r in engine.push(f)] == []  # a clip holds 4
        assert engine.push(frames[2]) == []
        assert engine.stats.frames_dropped == 1 and engine.stats.resets == 0
        assert engine.stats.last_status.startswith('dropped: duplicate stamp')
        flushed = engine.push(frames[1])  # backwards: held frames out, then a new world
        assert engine.stats.resets == 1 and engine.stats.frames_dropped == 1
        assert engine.stats.last_status.startswith('reset: stamp went backwards')
        rest = [r for f in frames[3:] for r in engine.push(f)] + engine.flush()
    assert [r.stamp_ns for r in flushed] == [f.stamp_ns for f in frames[:3]]
    assert [r.world_id for r in flushed] == [0] * 3
    assert [r.stamp_ns for r in rest] == [f.stamp_ns for f in [frames[1]] + frames[3:]]
    assert [r.world_id for r in rest] == [1] * 6
    assert all('stamp went backwards' in r.status for r in rest[:4])  # the new world's clip
    assert not any('stamp went backwards' in r.status for r in flushed)
    np.testing.assert_allclose(rest[0].T_world_cam, np.eye(4), atol=1e-9)  # a new world
    assert (engine.stats.frames_in, engine.stats.frames_out) == (10, 9)
    _assert_sane(flushed + rest)
    assert len(backend.live) <= 2


def test_stamp_policy_is_the_engines_in_live_mode_too():
    frames = make_sequence(6, 32, 48, seed=1, num_movers=0).frames
    engine, _ = _engine(stream={'mode': 'live'})
    with single_torch_thread():
        out = [engine.push(f) for f in frames[:3] + [frames[2], frames[1]] + frames[3:]]
        out.append(engine.flush())
    results = [r for o in out for r in o]
    assert out[3] == [] and engine.stats.frames_dropped == 1 and engine.stats.resets == 1
    assert [r.stamp_ns for r in results] == [f.stamp_ns for f in frames[:3] + frames[1:2]
                                             + frames[3:]]
    assert [r.world_id for r in results] == [0] * 3 + [1] * 4
    assert 'reset: stamp went backwards' in out[4][-1].status
    np.testing.assert_allclose(out[4][-1].T_world_cam, np.eye(4), atol=1e-9)  # a new world
    _assert_sane(results)


def test_size_change_emits_pending_clip_and_resets():
    small = make_sequence(6, 32, 48, seed=1, num_movers=0).frames
    large = make_sequence(5, 48, 64, seed=2, num_movers=0).frames
    shift = small[-1].stamp_ns + 1
    large = [dataclasses.replace(f, stamp_ns=f.stamp_ns + shift) for f in large]
    engine, backend = _engine(output={'resolution': 'input'})
    results = _stream(engine, small + large)
    assert len(results) == 11 and engine.stats.resets == 1
    assert results[4].depth.shape == (32, 48) and results[6].depth.shape == (48, 64)
    assert [r.world_id for r in results] == [0] * 6 + [1] * 5
    assert any('size changed' in r.status for r in results[6:])
    np.testing.assert_allclose(results[6].T_world_cam, np.eye(4), atol=1e-9)  # a new world
    _assert_sane(results)
    assert len(backend.live) <= 2


def test_nan_predictions_give_finite_results():
    frames = make_sequence(8, 32, 48, seed=3, num_movers=0).frames
    engine, _ = _engine(with_nan_points)
    results = _stream(engine, frames)
    assert len(results) == 8
    _assert_sane(results)
    assert all(np.isfinite(r.depth).mean() > 0.5 for r in results)


def test_all_low_confidence_clip_keeps_going():
    frames = make_sequence(8, 32, 48, seed=3, num_movers=0).frames
    engine, _ = _engine(with_unit_confidence)
    results = _stream(engine, frames)
    assert len(results) == 8
    _assert_sane(results)
    # nothing is confident: no depth is published
    assert all(not np.isfinite(r.depth).any() for r in results)


def test_static_camera():
    frames = make_sequence(8, 32, 48, seed=4, num_movers=0, speed=0.0).frames
    engine, _ = _engine()
    results = _stream(engine, frames)
    _assert_sane(results)
    centres = np.stack([r.T_world_cam[:3, 3] for r in results])
    depth_scale = np.nanmedian(results[0].depth)
    assert np.abs(centres - centres[0]).max() < 0.02 * depth_scale


def test_single_frame_and_known_intrinsics_without_K():
    frame = make_sequence(1, 32, 48, seed=0).frames[0]
    engine, _ = _engine()
    with single_torch_thread():
        assert engine.push(frame) == []
        (result,) = engine.flush()
    assert 'single frame' in result.status and np.isfinite(result.T_world_cam).all()
    engine, _ = _engine(camera={'intrinsics': 'known'})
    assert engine.push(dataclasses.replace(frame, K=None)) == []
    assert engine.stats.frames_dropped == 1 and 'no K' in engine.stats.last_status


def test_unusable_frame_is_dropped_without_reset():
    frames = make_sequence(8, 32, 48, seed=1, num_movers=0).frames
    gray = dataclasses.replace(frames[2], rgb=frames[2].rgb[..., 0])
    tiny = dataclasses.replace(frames[3], rgb=np.zeros((0, 0, 3), np.uint8))
    engine, _ = _engine()
    results = _stream(engine, frames[:2] + [gray, tiny] + frames[4:])
    assert [r.stamp_ns for r in results] == [f.stamp_ns for f in frames[:2] + frames[4:]]
    assert engine.stats.frames_dropped == 2 and engine.stats.resets == 0
    _assert_sane(results)


def test_stats_is_a_snapshot():
    engine, _ = _engine()
    stats = engine.stats
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.frames_in = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.timings.total_ms = 1.0
