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
from align3r_ros.evaluation.pose_metrics import evaluate_trajectory
from align3r_ros.structures import EngineStats, FrameResult
from align3r_ros.synthetic import make_sequence
from support.backends import RecordingBackend

#: Roots of ROS packages, and the torch networks (modules whose import builds nn.Modules).
ROS_ROOTS = ('rclpy', 'sensor_msgs', 'geometry_msgs', 'nav_msgs', 'tf2_ros', 'std_msgs')
NETWORKS = ('align3r_ros.networks.pairwise', 'align3r_ros.networks.depth_anything',
            'align3r_ros.networks.depth_pro')

CONFIG = {'pairwise': {'backend': 'oracle'}, 'oracle': {'noise': 0.02, 'seed': 3},
          'clip': {'length': 4}, 'preprocess': {'long_side': 48},
          'align': {'temporal_weight': 0.0}, 'stream': {'mode': 'clip'}}  # clip-mode timing


def test_engine_from_config_streams_results(one_torch_thread):
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


def test_offline_and_streamed_alignment_use_the_injected_backend_and_agree(one_torch_thread):
    config = load_config({**CONFIG, 'oracle': {'noise': 0.0}})  # exact pairs: exact answers
    frames = make_sequence(8, 32, 48, seed=1, num_movers=0).frames
    offline_backend = RecordingBackend(OracleBackend(config.oracle))
    offline = align_sequence(frames, config, pairwise_backend=offline_backend)
    streamed_backend = RecordingBackend(OracleBackend(config.oracle))
    engine = Engine(config, streamed_backend)
    streamed = [r for f in frames for r in engine.push(f)] + engine.flush()
    assert offline_backend.calls > 0 and streamed_backend.calls > 0  # the injected ones served
    assert [r.stamp_ns for r in offline] == [r.stamp_ns for r in streamed]
    # both recover the trajectory (noise-free pairs; only random pair scales to undo) ...
    T_gt = np.stack([f.gt_T_world_cam for f in frames])
    length = np.linalg.norm(np.diff(T_gt[:, :3, 3], axis=0), axis=1).sum()
    T_offline, T_streamed = (np.stack([r.T_world_cam for r in results])
                             for results in (offline, streamed))
    for T in (T_offline, T_streamed):
        assert evaluate_trajectory(T, T_gt).ate < 0.005 * length
    # ... and agree with each other, pose for pose after one Sim(3)
    assert evaluate_trajectory(T_streamed, T_offline).ate < 0.01 * length


def test_factory_dispatch():
    config = load_config(CONFIG)
    assert isinstance(build_pairwise_backend(config), OracleBackend)
    for kind in ('torch', 'onnx'):  # dispatched to the real backends, which want weights
        with pytest.raises(WeightsError, match='pairwise.weights'):
            build_pairwise_backend(load_config({'pairwise': {'backend': kind}}))


def test_importing_the_engine_pulls_no_ros_and_no_torch_network():
    # one fresh interpreter: what importing the engine loaded, then what the torch pairwise
    # backend (which builds a network) adds -- the check must see that one
    code = ('import importlib, sys\n'
            'def loaded():\n'
            '    return " ".join(sorted(m for m in sys.modules if m.split(".")[0] in %r\n'
            '                           or m.startswith(%r)))\n'
            'importlib.import_module("align3r_ros.engine.engine")\n'
            'print(loaded())\n'
            'importlib.import_module("align3r_ros.backends.torch_pairwise")\n'
            'print(loaded())\n' % (ROS_ROOTS, NETWORKS))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    after_engine, after_backend = out.stdout.split('\n')[:2]
    assert after_engine == ''
    assert 'align3r_ros.networks.pairwise.model' in after_backend.split()
