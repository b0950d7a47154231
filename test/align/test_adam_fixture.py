"""The reference-compatible Adam loop from the fixture's stored init parameters.

Tolerances from the fixture README: loss_history[:20] rtol 2e-4; loss_after_loop rtol 1e-3;
final depth and cam2world atol 5e-3; focal rtol 2e-3; pw_scale rtol 1e-3. (The middle of the
history is not compared: a float64 replay of the reference itself deviates by up to 12 % there.)

The history is compared on a float64 run, as the README's evidence is a float64 replay. Adam's
first step moves every parameter by lr * g / (|g| + 1e-8), about ±lr whatever |g| is, so a
gradient within round-off of zero moves its parameter by +lr on one machine and -lr on another.
In float32 that is real: on the default run ten gradients are under 1e-6 (max |g| 0.06);
flipping their first step moves the loss after it by 3.6e-4; adding 1e-7 * max|g| of noise to
the first gradients (a float32 reduction in another order) moves loss_history[:20] by up to
3e-3 — what CI measured on another x86-64 machine (3.1e-3 against rtol 2e-4). In float64 the
same experiment at 1e-13 * max|g| leaves the history at 2e-6 of the fixture on every draw.
The final state is robust to this in float32 too (depth, poses within 1e-3 in those draws,
against atol 5e-3), so the production dtype is checked on the final state alone.
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

# Every run is in the default suite (about 1.5 s each on 2 cores); the float32 final-state check
# takes the demo / pose_test setting.
DEFAULT_RUN = 'cloud_opt_flow_lin_lr0.01'


@pytest.fixture(scope='module')
def fixture(shared):
    return Fixture(shared)


def _run(fixture, run: str, dtype: torch.dtype):
    """Run the loop from the stored init state; returns (history, final state arrays)."""
    state, lr, schedule, lr_min = RUNS[run]
    problem = build_problem(fixture.predictions, fixture.config(state))
    data = objective_data(problem, dtype)
    params = fixture.params(f'{state}_', dtype=dtype)
    history = run_adam(params, data, 300, lr, lr_min, schedule, train_focal=True)
    shape = fixture.data[f'{run}_final_depth'].shape
    with torch.no_grad():
        final = dict(
            loss=float(evaluate_loss(params, data).total),
            T=camera_poses(params, data).numpy(),
            depth=depth_maps(params, data).numpy().reshape(shape),
            focal=focal_lengths(params.focal, problem.num_frames).numpy(),
            scale=pair_scales(params.pw_pose, True).numpy())
    return np.asarray(history), final


def _assert_final_state(fixture, run: str, final: dict):
    d = fixture.data
    assert final['loss'] == pytest.approx(fixture.summary[run]['loss_after_loop'], rel=1e-3)
    np.testing.assert_allclose(final['depth'], d[f'{run}_final_depth'], atol=5e-3)
    np.testing.assert_allclose(final['T'], d[f'{run}_final_cam2world'], atol=5e-3)
    np.testing.assert_allclose(final['focal'], d[f'{run}_final_focal'], rtol=2e-3)
    np.testing.assert_allclose(final['scale'], d[f'{run}_final_pw_scale'], rtol=1e-3)


@pytest.mark.parametrize('run', sorted(RUNS))
def test_adam_run(fixture, run):
    history, final = _run(fixture, run, torch.float64)
    np.testing.assert_allclose(history[:20], fixture.data[f'{run}_loss_history'][:20], rtol=2e-4)
    _assert_final_state(fixture, run, final)


def test_adam_run_float32_final_state(fixture):
    """The production dtype reaches the reference's final state (its history: module doc)."""
    _, final = _run(fixture, DEFAULT_RUN, torch.float32)
    _assert_final_state(fixture, DEFAULT_RUN, final)
