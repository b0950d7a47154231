"""Device placement of the live state, and bounded state over a long run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.engine import Engine
from align3r_ros.synthetic import iter_frames
from live_helpers import RecordingBackend, live_config, run_per_push, single_torch_thread


def _keyframe_devices(engine):
    stream = engine._stream
    return {t.device.type for kf in stream.window.keyframes
            for t in (kf.T_world_cam, kf.depth, kf.confidence, kf.dynamic, kf.weight)}


def test_state_lives_on_the_resolved_device_cpu():
    engine = Engine.from_config(live_config(runtime={'device': 'cpu'}))
    frames = list(iter_frames(4, 48, 64, seed=0, num_movers=0))
    run_per_push(engine, frames)
    assert _keyframe_devices(engine) == {'cpu'}
    auto = Engine.from_config(live_config(runtime={'device': 'auto'}))
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert auto._stream.device.type == expected


@pytest.mark.gpu
def test_state_lives_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device')
    engine = Engine.from_config(live_config(runtime={'device': 'cuda'}))
    frames = list(iter_frames(6, 48, 64, seed=0, num_movers=1))
    results = [r for out in run_per_push(engine, frames) for r in out]
    assert _keyframe_devices(engine) == {'cuda'}
    assert len(results) == 6 and all(np.isfinite(r.T_world_cam).all() for r in results)
    assert isinstance(results[-1].depth, np.ndarray)  # host copies at the output boundary


def test_held_state_is_bounded_over_a_long_run():
    config = live_config(preprocess={'long_side': 48}, live={'window': 3})
    backend = RecordingBackend(OracleBackend.from_config(config))
    engine = Engine(config, backend)
    held, cached = [], []
    with single_torch_thread():
        for frame in iter_frames(80, 36, 48, seed=5, num_movers=1, speed=3.0):
            assert len(engine.push(frame)) == 1
            held.append(engine.held_frames)
            cached.append(len(engine._stream.window.cache))
    window = config.live.window
    assert engine._stream.keyframes_added > 2 * window  # the window really slid
    assert max(held) <= window and max(cached) <= window * (window - 1)
    assert backend.max_live <= window + 1 and len(backend.live) <= window
