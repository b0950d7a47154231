"""The torch geometry agrees with the numpy vocabulary (the one definition of each term)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from align3r_ros.geometry import quaternion_to_matrix, umeyama_alignment, unproject_depth
from align3r_ros.geometry.torch_ops import (project, quaternion_to_rotation, rotation_exp,
                                            rotation_log, unproject_depth_map,
                                            weighted_procrustes, weighted_umeyama)

K = np.array([[50.0, 0.0, 15.5], [0.0, 48.0, 11.0], [0.0, 0.0, 1.0]])


def test_quaternion_matches_numpy_and_ignores_the_norm():
    q = Rotation.random(5, random_state=0).as_quat()  # xyzw
    R = quaternion_to_rotation(torch.tensor(3.0 * q))
    np.testing.assert_allclose(R.numpy(), quaternion_to_matrix(q), atol=1e-12)


def test_rotation_log_and_exp_invert_each_other():
    w = torch.tensor(Rotation.random(6, random_state=1).as_rotvec() * 0.9)
    R = rotation_exp(w)
    np.testing.assert_allclose(R.numpy(), Rotation.from_rotvec(w.numpy()).as_matrix(),
                               atol=1e-12)
    np.testing.assert_allclose(rotation_log(R).numpy(), w.numpy(), atol=1e-9)


def test_weighted_umeyama_matches_numpy_and_recovers_a_similarity():
    rng = np.random.default_rng(2)
    src = rng.normal(size=(40, 3))
    R = Rotation.random(random_state=3).as_matrix()
    dst = 1.7 * src @ R.T + np.array([0.3, -1.0, 2.0])
    w = rng.uniform(0.5, 2.0, size=40)
    R_t, t_t, s_t, _ = weighted_umeyama(torch.tensor(src)[None], torch.tensor(dst)[None],
                                        torch.tensor(w)[None], with_scale=True)
    np.testing.assert_allclose(R_t[0].numpy(), R, atol=1e-10)
    np.testing.assert_allclose(float(s_t[0]), 1.7, atol=1e-10)
    np.testing.assert_allclose(t_t[0].numpy(), [0.3, -1.0, 2.0], atol=1e-10)
    noisy = dst + rng.normal(size=dst.shape) * 0.05
    sim = umeyama_alignment(src, noisy, w, with_scale=True)
    R_t, t_t, s_t, _ = weighted_umeyama(torch.tensor(src)[None], torch.tensor(noisy)[None],
                                        torch.tensor(w)[None], with_scale=True)
    np.testing.assert_allclose(R_t[0].numpy(), sim.R, atol=1e-10)
    np.testing.assert_allclose(float(s_t[0]), sim.scale, atol=1e-10)
    np.testing.assert_allclose(t_t[0].numpy(), sim.t, atol=1e-10)
    # rigid: the weighted Procrustes of the same points without the scale
    R_p, t_p = weighted_procrustes(torch.tensor(src), torch.tensor(src @ R.T + 0.5),
                                   torch.tensor(w))
    np.testing.assert_allclose(R_p.numpy(), R, atol=1e-10)
    np.testing.assert_allclose(t_p.numpy(), [0.5, 0.5, 0.5], atol=1e-10)


def test_unproject_matches_numpy_and_project_inverts_it():
    depth = np.random.default_rng(4).uniform(1.0, 3.0, size=(22, 31))
    points = unproject_depth_map(torch.tensor(depth), torch.tensor(K))
    np.testing.assert_allclose(points.numpy(), unproject_depth(depth, K), atol=1e-12)
    u, v, z = project(points, torch.tensor(K))
    vv, uu = np.mgrid[0:22, 0:31]
    np.testing.assert_allclose(u.numpy(), uu, atol=1e-10)
    np.testing.assert_allclose(v.numpy(), vv, atol=1e-10)
    np.testing.assert_allclose(z.numpy(), depth)
