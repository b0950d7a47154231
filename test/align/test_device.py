"""Alignment on a chosen device: problem tensors, both solvers and the re-solve live there.

The ``device`` fixture runs every case on cpu and, where a GPU is present, on cuda (marked
``gpu``, so it skips here). Placement that cpu alone cannot observe is checked on torch's
``meta`` device (tensors without storage): building the problem tensors and the initial
parameters must put every tensor there.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from align3r_ros.align import align_pairs
from align3r_ros.align.init_mst import mst_initialisation
from align3r_ros.align.init_params import init_from_points
from align3r_ros.align.objective import evaluate_loss, objective_data
from align3r_ros.align.problem import build_problem
from align3r_ros.config import Align3rConfig, AlignConfig, DynamicConfig, RuntimeConfig
from align3r_ros.engine.steps import solve as solve_module
from align3r_ros.engine.steps.solve import solve_frames
from support.align_problem import ate, depth_abs_rel, make_problem

FAST = AlignConfig(solver='fast', temporal_weight=0.0)
ADAM = AlignConfig(solver='adam', iterations=30, temporal_weight=0.01)


@pytest.fixture(params=[pytest.param('cpu', id='cpu'),
                        pytest.param('cuda', id='cuda', marks=pytest.mark.gpu)])
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope='module')
def small():
    return make_problem(num_frames=6, h=20, w=32, window=2, noise=0.02, seed=5)


def _tensors(obj):
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)
            if isinstance(getattr(obj, f.name), torch.Tensor)}


def test_problem_tensors_and_initial_parameters_are_built_on_the_device(small):
    meta = torch.device('meta')
    problem = build_problem(small.predictions, FAST, K_known=small.K)
    data = objective_data(problem, torch.float32, meta)
    placed = _tensors(data)
    assert {'pts_i', 'weight_j', 'edge_i', 'grid_u', 'fixed_fx', 'anchor_T',
            'anchor_pose_mask'} <= set(placed)
    assert {name for name, t in placed.items() if t.device != meta} == set()
    tree = mst_initialisation(problem)
    params = init_from_points(problem, tree.pts_world, tree.T_world_cam, tree.focals,
                              device=meta)
    assert all(t.device == meta for t in params.tensors())


@pytest.mark.parametrize('config, tolerance', [(FAST, 0.02), (ADAM, 0.05)],
                         ids=['fast', 'adam'])
def test_solvers_run_on_the_device_and_return_host_arrays(small, device, config, tolerance,
                                                          one_torch_thread):
    result = align_pairs(small.predictions, config, device=device)
    assert torch.device(result.device).type == device.type
    for array in (result.T_world_cam, result.depth, result.K, result.pw_scale):
        assert isinstance(array, np.ndarray) and np.isfinite(array).all()
    assert ate(result.T_world_cam, small.gt_T_world_cam) < tolerance
    assert depth_abs_rel(result.depth, small.gt_depth) < tolerance
    reference = align_pairs(small.predictions, config)  # no device: the cpu path
    if device.type == 'cpu':
        np.testing.assert_array_equal(result.T_world_cam, reference.T_world_cam)
        np.testing.assert_array_equal(result.depth, reference.depth)
    else:  # another device's kernels round differently; the solution is the same
        np.testing.assert_allclose(result.depth, reference.depth, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(result.T_world_cam, reference.T_world_cam, atol=1e-3)


def test_the_loss_of_device_tensors_stays_on_the_device(small, device):
    problem = build_problem(small.predictions, ADAM)
    data = objective_data(problem, torch.float32, device)
    tree = mst_initialisation(problem)
    params = init_from_points(problem, tree.pts_world, tree.T_world_cam, tree.focals,
                              device=device)
    terms = evaluate_loss(params, data)
    assert {t.device.type for t in (terms.li, terms.lj, terms.temporal, terms.total)} == \
        {device.type}


def _config(device: str) -> Align3rConfig:
    return Align3rConfig(align=FAST, runtime=RuntimeConfig(device=device),
                         dynamic=DynamicConfig(enabled=True, threshold=0.0))


def test_solve_frames_solves_and_re_solves_on_runtime_device(small, device, monkeypatch):
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get('device'))
        return align_pairs(*args, **kwargs)

    monkeypatch.setattr(solve_module, 'align_pairs', spy)
    outcome = solve_frames(small.predictions, 6, (20, 32), _config(device.type))
    assert outcome.status == '' and outcome.result is not None
    # threshold 0 marks pixels dynamic, so the down-weighted re-solve runs too
    assert outcome.dynamic_mask.any() and len(seen) == 2
    assert [d.type for d in seen] == [device.type] * 2
    assert torch.device(outcome.result.device).type == device.type


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')
def test_cuda_without_a_gpu_is_a_failed_solve_with_its_reason(small):
    outcome = solve_frames(small.predictions, 6, (20, 32), _config('cuda'))
    assert outcome.result is None and 'no CUDA device' in outcome.status
    assert outcome.dynamic_mask.shape == (6, 20, 32)
