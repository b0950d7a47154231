"""The reference-compatible Adam loop from the fixture's stored init parameters.

Tolerances from the fixture README: loss_history[:20] rtol 2e-4; loss_after_loop rtol 1e-3;
final depth and cam2world atol 5e-3; focal rtol 2e-3; pw_scale rtol 1e-3. (The middle of the
history is not compared: a float64 replay of the reference itself deviates by up to 12 % there.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align3r_ros.align.objective import (camera_poses, depth_maps, evaluate_loss,
                                         objective_data)
from align3r_ros.align.optimise import run_adam
from align3r_ros.align.params import focal_lengths, pair_scales
from align3r_ros.align.problem import build_problem
from support.align_fixture import Fixture, RUNS

# One run (the demo / pose_test setting) in the default suite; each takes 10-60 s on 2 cores.
DEFAULT_RUN = 'cloud_opt_flow_lin_lr0.01'


@pytest.fixture(scope='module')
def fixture(shared):
    return Fixture(shared)


@pytest.mark.parametrize('run', [
    r if r == DEFAULT_RUN else pytest.param(r, marks=pytest.mark.slow) for r in sorted(RUNS)])
def test_adam_run(fixture, run):
    state, lr, schedule, lr_min = RUNS[run]
    problem = build_problem(fixture.predictions, fixture.config(state))
    data = objective_data(problem, torch.float32)
    params = fixture.params(f'{state}_', dtype=torch.float32)
    history = run_adam(params, data, 300, lr, lr_min, schedule, train_focal=True)
    d = fixture.data
    np.testing.assert_allclose(history[:20], d[f'{run}_loss_history'][:20], rtol=2e-4)
    with torch.no_grad():
        loss = float(evaluate_loss(params, data).total)
        T = camera_poses(params, data).numpy()
        depth = depth_maps(params, data).numpy().reshape(d[f'{run}_final_depth'].shape)
        focal = focal_lengths(params.focal, problem.num_frames).numpy()
        scale = pair_scales(params.pw_pose, True).numpy()
    assert loss == pytest.approx(fixture.summary[run]['loss_after_loop'], rel=1e-3)
    np.testing.assert_allclose(depth, d[f'{run}_final_depth'], atol=5e-3)
    np.testing.assert_allclose(T, d[f'{run}_final_cam2world'], atol=5e-3)
    np.testing.assert_allclose(focal, d[f'{run}_final_focal'], rtol=2e-3)
    np.testing.assert_allclose(scale, d[f'{run}_final_pw_scale'], rtol=1e-3)
