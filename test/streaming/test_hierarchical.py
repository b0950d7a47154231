"""Offline hierarchical alignment: clip splitting, shared scale across clips, error bounds."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.engine.engine import align_sequence
from align3r_ros.errors import InputError
from align3r_ros.engine.offline.hierarchical import split_clips
from align3r_ros.synthetic import make_sequence
from support.configs import oracle_config
from support.measures import ate_percent, median_scaled_abs_rel
from support.torch_threads import single_torch_thread


@pytest.mark.parametrize('num_frames,length,expected', [
    (30, 10, [10, 10, 10]), (31, 10, [10, 10, 11]), (32, 10, [10, 10, 10, 2]), (5, 10, [5])])
def test_split_clips(num_frames, length, expected):
    clips = split_clips(num_frames, length)
    assert [len(c) for c in clips] == expected
    assert [i for c in clips for i in c] == list(range(num_frames))


@pytest.fixture(scope='module')
def rigid():
    seq = make_sequence(24, 48, 64, seed=2, num_movers=0)
    config = oracle_config(clip={'length': 6, 'keyframe_window': 4}, dynamic={'enabled': False})
    with single_torch_thread():
        results = align_sequence(seq.frames, config)
    return seq, results


def test_errors_within_bounds(rigid):
    """Bounds as the streaming test (ATE < 2 %, Abs Rel < 2.5 %): 4 clips on 4 keyframes."""
    seq, results = rigid
    assert [r.stamp_ns for r in results] == [f.stamp_ns for f in seq.frames]
    T = np.stack([r.T_world_cam for r in results])
    assert np.isfinite(T).all() and ate_percent(T, seq.T_world_cam) < 2.0
    depth = np.stack([r.masked_depth(oracle_config().output.conf_threshold) for r in results])
    abs_rel, coverage = median_scaled_abs_rel(depth, seq.depth, np.ones(depth.shape, bool))
    assert abs_rel < 0.025 and coverage > 0.75
    np.testing.assert_allclose(T[0], np.eye(4), atol=1e-9)  # keyframe 0 defines the world
    assert not any(r.is_metric for r in results)


def test_clips_share_one_scale(rigid):
    """Per-clip median depth ratios to GT agree: the official code's unlinked clips would
    differ by their own scale normalisation (tens of %)."""
    seq, results = rigid
    depth = np.stack([r.masked_depth(oracle_config().output.conf_threshold) for r in results])
    ratios = []
    for clip in split_clips(len(results), 6):
        d, g = depth[clip.start:clip.stop], seq.depth[clip.start:clip.stop]
        ok = np.isfinite(d)
        ratios.append(np.median(g[ok] / d[ok]))
    assert max(ratios) / min(ratios) < 1.02


def test_bad_sequences_raise():
    seq = make_sequence(3, 16, 32, seed=0)
    config = oracle_config(preprocess={'long_side': 32})
    with pytest.raises(InputError, match='at least 2'):
        align_sequence(seq.frames[:1], config)
    with pytest.raises(InputError, match='increasing'):
        align_sequence([seq.frames[1], seq.frames[0]], config)
    other = make_sequence(1, 32, 32, seed=0).frames[0]
    with pytest.raises(InputError, match='one size'):
        align_sequence([seq.frames[0], other], config)
