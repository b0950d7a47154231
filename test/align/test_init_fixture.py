"""MST initialisation against the reference init states (fixture README tolerances)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from align3r_ros.align.init_mst import RootPrior, mst_initialisation
from align3r_ros.align.init_params import init_from_points
from align3r_ros.align.objective import camera_poses, depth_maps, evaluate_loss, objective_data
from align3r_ros.align.params import focal_lengths, pair_matrices, pair_scales
from align3r_ros.align.problem import build_problem
from support.align_fixture import Fixture, INIT_STATES


@pytest.fixture(scope='module')
def fixture(shared):
    return Fixture(shared)


def _init(fixture, state):
    problem = build_problem(fixture.predictions, fixture.config(state))
    prior = None
    if 'initpriors' in state:
        prior = RootPrior(fixture.data['cloud_opt_conf10_initpriors_key_pose'], 26.5)
    tree = mst_initialisation(problem, root_prior=prior)
    params = init_from_points(problem, tree.pts_world, tree.T_world_cam, tree.focals,
                              dtype=torch.float64)
    return problem, tree, params


@pytest.mark.parametrize('optimiser', ['cloud_opt', 'cloud_opt_conf10', 'cloud_opt_flow'])
def test_tree_and_focals(fixture, optimiser):
    state = f'{optimiser}_init'
    _, tree, _ = _init(fixture, state)
    np.testing.assert_array_equal(tree.tree_edges, fixture.data[f'{optimiser}_mst_edges'])
    # The stale-edge focal quirk: reproduced to float32 precision (the inputs are float32). The
    # tree and the fallback focals do not depend on the machine's sort kernel: ties between equal
    # edge scores (conf10: all equal) are broken by edge order (init_mst._spanning_tree).
    np.testing.assert_allclose(tree.focals,
                               fixture.data[f'{optimiser}_mst_focals_before_scale_norm'],
                               rtol=1e-6)


@pytest.mark.parametrize('state', sorted(INIT_STATES))
def test_init_state(fixture, state):
    problem, tree, params = _init(fixture, state)
    d = fixture.data
    data = objective_data(problem, torch.float64)
    loss = float(evaluate_loss(params, data).total)
    assert loss == pytest.approx(fixture.summary[state]['loss'], rel=1e-5)
    np.testing.assert_allclose(pair_matrices(params.pw_pose, True).numpy(),
                               d[f'{state}_pw_poses'], atol=1e-5)
    np.testing.assert_allclose(pair_scales(params.pw_pose, True).numpy(),
                               d[f'{state}_pw_scale'], atol=1e-5)
    T = camera_poses(params, data).numpy()
    depth = depth_maps(params, data).numpy()
    T_ref = d[f'{state}_cam2world']
    depth_ref = d[f'{state}_depth'].reshape(len(T), -1)
    pnp = set(tree.pnp_frames.tolist())
    scene = np.ptp(T_ref[:, :3, 3], axis=0).max() + np.median(depth_ref)
    for n in range(len(T)):
        if n in pnp:  # README: ≤ 0.05°, centre ≤ 1e-3·scene, depth rtol 1e-3. OpenCV's RANSAC
            # seeds itself (fixed seed), so one build repeats itself exactly, but its sampling and
            # SQPnP differ between builds (4.10 in the NumPy 1 leg, 5.x here): these frames are
            # compared with the README's build-independent tolerances, never to round-off.
            angle = Rotation.from_matrix(T[n, :3, :3].T @ T_ref[n, :3, :3]).magnitude()
            assert np.degrees(angle) <= 0.05
            assert np.linalg.norm(T[n, :3, 3] - T_ref[n, :3, 3]) <= 1e-3 * scene
            np.testing.assert_allclose(depth[n], depth_ref[n], rtol=1e-3)
        else:
            np.testing.assert_allclose(T[n], T_ref[n], atol=1e-5)
            np.testing.assert_allclose(depth[n], depth_ref[n], rtol=1e-5)
    f_ref = d[f'{state}_focal']
    f = focal_lengths(params.focal, len(T)).numpy()
    if 'initpriors' in state:
        # Documented deviation: in the prior-rooted variant the reference's stale focal of
        # frame 1 comes from edge (0, 1) where ours comes from the root edge (0, 5): 0.013 px.
        np.testing.assert_allclose(f, f_ref, atol=0.02)
    else:
        np.testing.assert_allclose(f, f_ref, rtol=1e-5)
