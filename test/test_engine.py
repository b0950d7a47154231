"""The engine's public surface: construction from config or injected backends, push/flush,
stats, offline alignment, backend factory; and no ROS import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from align3r_ros.backends.factory import build_pairwise_backend
from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.config_io import load_config
from align3r_ros.engine.engine import Engine, align_sequence
from align3r_ros.errors import WeightsError
from align3r_ros.structures import EngineStats, FrameResult
from align3r_ros.synthetic import make_sequence

CONFIG = {'pairwise': {'backend': 'oracle'}, 'oracle': {'noise': 0.02, 'seed': 3},
          'clip': {'length': 4}, 'preprocess': {'long_side': 48},
          'align': {'temporal_weight': 0.0}, 'stream': {'mode': 'clip'}}  # clip-mode timing


@pytest.fixture()
def one_thread():
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads oversubscribe a shared 2-core machine
    yield
    torch.set_num_threads(previous)


def test_engine_from_config_streams_results(one_thread):
    engine = Engine.from_config(CONFIG)  # a mapping of overrides is accepted too
    assert engine.config == load_config(CONFIG)
    frames = make_sequence(6, 32, 48, seed=0, num_movers=0).frames
    out = [engine.push(f) for f in frames]
    assert [len(o) for o in out] == [0, 0, 0, 4, 0, 0]
    tail = engine.flush()
    results = out[3] + tail
    assert len(results) == 6 and all(isinstance(r, FrameResult) for r in results)
    r = results[0]
    assert r.depth.shape == (32, 48) and r.K.shape == (3, 3) and r.T_world_cam.shape == (4, 4)
    assert r.dynamic_mask.dtype == bool and not r.is_metric
    assert isinstance(engine.stats, EngineStats) and engine.stats.frames_out == 6
    assert engine.flush() == []


def test_injected_backend_and_offline_mode_agree(one_thread):
    config = load_config({**CONFIG, 'oracle': {'noise': 0.0}})  # exact pairs: exact answers
    frames = make_sequence(8, 32, 48, seed=1, num_movers=0).frames
    offline = align_sequence(frames, config, pairwise_backend=OracleBackend(config.oracle))
    engine = Engine(config, OracleBackend(config.oracle))
    streamed = [r for f in frames for r in engine.push(f)] + engine.flush()
    assert [r.stamp_ns for r in offline] == [r.stamp_ns for r in streamed]
    # both recover the trajectory (noise-free pairs; only random pair scales to undo)
    from align3r_ros.evaluation.pose_metrics import evaluate_trajectory
    T_gt = np.stack([f.gt_T_world_cam for f in frames])
    length = np.linalg.norm(np.diff(T_gt[:, :3, 3], axis=0), axis=1).sum()
    for results in (offline, streamed):
        T = np.stack([r.T_world_cam for r in results])
        assert evaluate_trajectory(T, T_gt).ate < 0.005 * length


def test_factory_dispatch():
    config = load_config(CONFIG)
    assert isinstance(build_pairwise_backend(config), OracleBackend)
    for kind in ('torch', 'onnx'):  # dispatched to the real backends, which want weights
        with pytest.raises(WeightsError, match='pairwise.weights'):
            build_pairwise_backend(load_config({'pairwise': {'backend': kind}}))


def test_importing_the_engine_pulls_no_ros_and_no_torch_network():
    code = ('import sys, align3r_ros.engine.engine; '
            'print(any(m.split(".")[0] in ("rclpy", "sensor_msgs") for m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == 'False'
