"""The clip-boundary decision (docs/clip_boundaries.md): the keyframe and clip stages run
without the temporal smoothing term whatever ``align.temporal_weight`` says; flat alignment
keeps it. Without the term a clip's last frame is no longer pulled onto its neighbour."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.engine.engine import Engine, align_sequence
from align3r_ros.geometry import umeyama_alignment
from align3r_ros.synthetic import make_sequence
from support.configs import oracle_config
from support.live_runs import run_per_push
from support.measures import poses

SMALL = {'preprocess': {'long_side': 48}, 'clip': {'length': 8}}


def _config(temporal_weight, **groups):
    return oracle_config(align={'temporal_weight': temporal_weight}, **{**SMALL, **groups})


@pytest.fixture(scope='module')
def sequence():
    return make_sequence(16, 36, 48, seed=3)


@pytest.fixture(scope='module')
def clip_poses(sequence):
    """Clip-mode poses with the default weight (0.01) and without the term."""
    out = {}
    for weight in (0.01, 0.0):
        engine = Engine.from_config(_config(weight))
        out[weight] = poses([r for o in run_per_push(engine, sequence.frames) for r in o])
    return out


def test_clip_and_hierarchy_ignore_the_temporal_weight_and_flat_keeps_it(sequence,
                                                                           clip_poses):
    np.testing.assert_array_equal(clip_poses[0.01], clip_poses[0.0])
    frames = sequence.frames
    offline = [poses(align_sequence(frames, _config(w))) for w in (0.01, 0.0)]
    np.testing.assert_array_equal(*offline)
    # a sequence of one clip is aligned flat: the term applies there
    flat = [poses(align_sequence(frames[:4], _config(w))) for w in (0.01, 0.0)]
    assert np.abs(flat[0] - flat[1]).max() > 1e-4


def test_the_last_frame_of_a_clip_keeps_its_step(sequence, clip_poses):
    T = clip_poses[0.01]
    truth = np.stack([f.gt_T_world_cam for f in sequence.frames])
    sim = umeyama_alignment(T[:, :3, 3], truth[:, :3, 3], with_scale=True)
    centres = sim.scale * T[:, :3, 3] @ sim.R.T + sim.t
    ratio = [np.linalg.norm(centres[k + 1] - centres[k])
             / np.linalg.norm(truth[k + 1, :3, 3] - truth[k, :3, 3]) for k in (6, 14)]
    # with the term in the clip stage a clip's last step was a small fraction of the true one
    assert min(ratio) > 0.6, ratio
