"""Soak (slow): 1500 live frames keep the held state and the resident memory flat."""

from __future__ import annotations

import gc
import math

import pytest

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.benchmarks.align_cases import rss_mib
from align3r_ros.engine.engine import Engine
from align3r_ros.synthetic import iter_frames
from support.backends import RecordingBackend
from support.configs import live_config
from support.torch_threads import single_torch_thread

FRAMES = 1500
WARMUP = 300


@pytest.mark.slow
def test_long_run_memory_is_flat():
    if math.isnan(rss_mib()):
        pytest.skip('resident memory is read from /proc (Linux only)')
    config = live_config(preprocess={'long_side': 48})
    backend = RecordingBackend(OracleBackend.from_config(config))
    engine = Engine(config, backend)
    window = config.live.window
    with single_torch_thread():
        for k, frame in enumerate(iter_frames(FRAMES, 36, 48, seed=7, num_movers=1,
                                              speed=2.0)):
            assert len(engine.push(frame)) == 1
            assert engine.held_frames <= window and len(backend.live) <= window
            if k == WARMUP:
                gc.collect()
                rss_warm = rss_mib()
    gc.collect()
    assert engine.stats.keyframes_added > 10 * window
    assert rss_mib() <= 1.05 * rss_warm
