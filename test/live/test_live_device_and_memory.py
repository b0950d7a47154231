"""Device placement of the live state, and bounded state over a long run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.live import LiveAligner
from align3r_ros.engine.steps.frame_prep import FramePreparer
from align3r_ros.synthetic import iter_frames
from support.backends import RecordingBackend
from support.configs import live_config
from support.torch_threads import single_torch_thread


def _aligner(config, backend=None):
    """A live aligner driven directly (its window is public; the engine's is not)."""
    backend = backend or OracleBackend.from_config(config)
    prepare = FramePreparer(config, bool(backend.needs_pointmap), None,
                            keep_input_rgb=False)
    aligner = LiveAligner(config, backend)
    return aligner, lambda frame: aligner.push(prepare.prepare(frame, key=int(frame.stamp_ns)))


def _keyframe_devices(aligner):
    return {t.device.type for kf in aligner.window.keyframes
            for t in (kf.T_world_cam, kf.depth, kf.confidence, kf.dynamic, kf.weight)}


def test_state_lives_on_the_resolved_device_cpu():
    aligner, push = _aligner(live_config(runtime={'device': 'cpu'}))
    with single_torch_thread():
        for frame in iter_frames(4, 48, 64, seed=0, num_movers=0):
            push(frame)
    assert len(aligner.window) >= 1 and _keyframe_devices(aligner) == {'cpu'}
    auto, _ = _aligner(live_config(runtime={'device': 'auto'}))
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert auto.device.type == expected


@pytest.mark.gpu
def test_state_lives_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device')
    aligner, push = _aligner(live_config(runtime={'device': 'cuda'}))
    results = [r for frame in iter_frames(6, 48, 64, seed=0, num_movers=1) for r in push(frame)]
    assert _keyframe_devices(aligner) == {'cuda'}
    assert len(results) == 6 and all(np.isfinite(r.T_world_cam).all() for r in results)
    assert isinstance(results[-1].depth, np.ndarray)  # host copies at the output boundary


def test_held_state_is_bounded_over_a_long_run():
    config = live_config(preprocess={'long_side': 48}, live={'window': 3})
    backend = RecordingBackend(OracleBackend.from_config(config))
    aligner, push = _aligner(config, backend)
    held, cached = [], []
    with single_torch_thread():
        for frame in iter_frames(80, 36, 48, seed=5, num_movers=1, speed=3.0):
            assert len(push(frame)) == 1
            held.append(aligner.held_frames)
            cached.append(len(aligner.window.cache))
    window = config.live.window
    assert aligner.keyframes_added > 2 * window  # the window really slid
    assert max(held) <= window and max(cached) <= window * (window - 1)
    assert backend.max_live <= window + 1 and len(backend.live) <= window
