"""The caller's ``Frame.tag`` comes back unchanged on that frame's result (streaming and
offline), so transports need no stamp -> frame side tables."""

from __future__ import annotations

import dataclasses

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.engine import Engine, align_sequence
from align3r_ros.synthetic import make_sequence

from support.configs import oracle_config


def _tagged(frames):
    return [dataclasses.replace(f, tag=('header', k, object())) for k, f in enumerate(frames)]


def test_streaming_results_carry_their_frame_tag():
    frames = _tagged(make_sequence(5, 32, 48, seed=1).frames)
    config = oracle_config(clip={'length': 3}, preprocess={'long_side': 48})
    engine = Engine(config, OracleBackend.from_config(config))
    results = []
    for frame in frames:
        results += engine.push(frame)
    results += engine.flush()
    assert [r.stamp_ns for r in results] == [f.stamp_ns for f in frames]
    assert all(r.tag is f.tag for r, f in zip(results, frames))


def test_offline_results_carry_their_frame_tag():
    frames = _tagged(make_sequence(4, 32, 48, seed=2).frames)
    config = oracle_config(clip={'length': 4}, preprocess={'long_side': 48})
    results = align_sequence(frames, config, OracleBackend.from_config(config))
    assert all(r.tag is f.tag for r, f in zip(results, frames))
