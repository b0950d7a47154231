"""A longer streaming run (slow): state, backend cache and resident memory stay flat."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.benchmarks.align_cases import rss_mib
from align3r_ros.engine.engine import Engine
from align3r_ros.synthetic import iter_frames
from support.backends import RecordingBackend
from support.configs import oracle_config
from support.torch_threads import single_torch_thread


@pytest.mark.slow
def test_long_stream_is_bounded():
    config = oracle_config(preprocess={'long_side': 48}, clip={'length': 5, 'keyframe_window': 4})
    backend = RecordingBackend(OracleBackend.from_config(config))
    engine = Engine(config, backend)
    rss = {}
    emitted = 0
    with single_torch_thread():
        for k, frame in enumerate(iter_frames(400, 32, 48, seed=9, num_movers=1), start=1):
            results = engine.push(frame)
            emitted += len(results)
            assert all(np.isfinite(r.T_world_cam).all() for r in results)
            if k in (100, 400):
                rss[k] = rss_mib()
    assert emitted == 400
    assert backend.max_live <= config.clip.length + config.clip.keyframe_window - 1
    assert engine.held_frames <= config.clip.keyframe_window - 1
    if np.isfinite(rss[100]):
        assert rss[400] < 1.05 * rss[100]
