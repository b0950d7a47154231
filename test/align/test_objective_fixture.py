"""The objective against the reference's loss values and gradients (fixture README)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align3r_ros.align.objective import evaluate_loss, objective_data
from align3r_ros.align.problem import build_problem
from support.align_fixture import Fixture, INIT_STATES, PARAM_NAMES, RUNS


@pytest.fixture(scope='module')
def fixture(shared):
    return Fixture(shared)


def _loss(fixture, state, prefix, requires_grad=False):
    problem = build_problem(fixture.predictions, fixture.config(state))
    params = fixture.params(prefix)
    for t in params.tensors():
        t.requires_grad_(requires_grad)
    return evaluate_loss(params, objective_data(problem, torch.float64)), params


@pytest.mark.parametrize('state', sorted(INIT_STATES))
def test_loss_at_init_states(fixture, state):
    terms, _ = _loss(fixture, state, f'{state}_')
    ref = fixture.summary[state]['loss_terms']
    assert float(terms.total) == pytest.approx(fixture.summary[state]['loss'], rel=1e-5)
    assert float(terms.li) == pytest.approx(ref['li'], rel=1e-5)
    assert float(terms.lj) == pytest.approx(ref['lj'], rel=1e-5)
    if 'temporal_sum' in ref:
        assert float(terms.temporal) == pytest.approx(ref['temporal_sum'], rel=1e-5)


@pytest.mark.parametrize('run', sorted(RUNS))
def test_loss_at_final_states(fixture, run):
    state = RUNS[run][0]
    terms, _ = _loss(fixture, state, f'{run}_final_')
    assert float(terms.total) == pytest.approx(fixture.summary[run]['loss_after_loop'],
                                               rel=1e-5)


@pytest.mark.parametrize('state', ['cloud_opt_init', 'cloud_opt_conf10_init',
                                   'cloud_opt_flow_init'])
def test_gradients_at_init_states(fixture, state):
    terms, params = _loss(fixture, state, f'{state}_', requires_grad=True)
    terms.total.backward()
    for name, tensor in zip(PARAM_NAMES, params.tensors()):
        ref = fixture.data[f'{state}_grad_{name}']
        # README: rtol 1e-3 with atol = 1e-3·max|g_ref| per tensor (float64 vs float32).
        np.testing.assert_allclose(tensor.grad.numpy(), ref, rtol=1e-3,
                                   atol=1e-3 * np.abs(ref).max(), err_msg=name)
