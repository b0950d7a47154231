"""A small synthetic rigid scene with network-style pairwise predictions (tests and the
solver comparison only; the project's generator lives in ``align3r_ros.synthetic``).

Scene: a room (walls x = ±2.5, floor y = 1.2, ceiling y = −1.5, back wall z = 5) and a box,
ray-cast; cameras move sideways and forward while panning. Predictions for edge (i, j) with
scale s_e = exp(U[log 0.5, log 2]): pts_i = s_e (X_i + n·noise·z_i), pts_j = s_e (T_i⁻¹T_j X_j +
n'·noise·z_j) (isotropic Gaussian noise relative to depth), confidences U[1.5, 6].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from align3r_ros.align import make_pair_edges
from align3r_ros.config import GraphKind
from align3r_ros.geometry.camera import unproject_depth
from align3r_ros.geometry.sim3 import umeyama_alignment
from align3r_ros.structures import PairPredictions

PLANES = ((np.array([1.0, 0, 0]), 2.5), (np.array([1.0, 0, 0]), -2.5),
          (np.array([0, 1.0, 0]), 1.2), (np.array([0, 1.0, 0]), -1.5),
          (np.array([0, 0, 1.0]), 5.0))
BOX = (np.array([-0.6, 0.3, 2.4]), np.array([0.4, 1.2, 3.2]))


@dataclass(frozen=True)
class SyntheticProblem:
    predictions: PairPredictions
    gt_T_world_cam: np.ndarray  # (N, 4, 4)
    gt_depth: np.ndarray        # (N, h, w)
    K: np.ndarray               # (N, 3, 3)


def _poses(n: int) -> np.ndarray:
    T = np.tile(np.eye(4), (n, 1, 1))
    for k in range(n):
        t = k / max(n - 1, 1)
        rot = Rotation.from_euler('y', -8 + 16 * t, degrees=True) * Rotation.from_euler(
            'x', 3 * np.sin(np.pi * t), degrees=True)
        T[k, :3, :3] = rot.as_matrix()
        T[k, :3, 3] = [-0.6 + 1.2 * t, -0.1 + 0.05 * np.sin(np.pi * t), 0.4 * t]
    return T


def _raycast(T: np.ndarray, K: np.ndarray, h: int, w: int) -> np.ndarray:
    rays_cam = unproject_depth(np.ones((h, w)), K)            # z = 1: ray parameter = depth
    d = rays_cam @ T[:3, :3].T
    c = T[:3, 3]
    best = np.full((h, w), np.inf)
    for normal, offset in PLANES:
        denom = d @ normal
        with np.errstate(divide='ignore', invalid='ignore'):
            t = (offset - c @ normal) / denom
        best = np.where((t > 1e-6) & (t < best), t, best)
    lo, hi = BOX
    with np.errstate(divide='ignore', invalid='ignore'):
        t1 = (lo - c) / d
        t2 = (hi - c) / d
    tmin = np.minimum(t1, t2).max(-1)
    tmax = np.maximum(t1, t2).min(-1)
    hit = (tmax >= tmin) & (tmin > 1e-6)
    return np.where(hit & (tmin < best), tmin, best)


def make_problem(num_frames: int = 30, h: int = 64, w: int = 112, window: int = 5,
                 noise: float = 0.02, seed: int = 0) -> SyntheticProblem:
    rng = np.random.RandomState(seed)
    f = 0.8 * w
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    T = _poses(num_frames)
    depth = np.stack([_raycast(T[k], K, h, w) for k in range(num_frames)])
    pts_cam = unproject_depth(depth, K)                          # (N, h, w, 3)
    edges = make_pair_edges(num_frames, GraphKind.SLIDING_WINDOW, window, False, True)
    E = len(edges)
    scales = np.exp(rng.uniform(np.log(0.5), np.log(2.0), size=E))
    pts_i = np.zeros((E, h, w, 3), np.float32)
    pts_j = np.zeros((E, h, w, 3), np.float32)
    for e, (i, j) in enumerate(edges):
        T_ij = np.linalg.inv(T[i]) @ T[j]
        xi = pts_cam[i] + rng.randn(h, w, 3) * noise * depth[i][..., None]
        xj = pts_cam[j] + rng.randn(h, w, 3) * noise * depth[j][..., None]
        pts_i[e] = scales[e] * xi
        pts_j[e] = scales[e] * (xj @ T_ij[:3, :3].T + T_ij[:3, 3])
    conf_i = rng.uniform(1.5, 6.0, size=(E, h, w)).astype(np.float32)
    conf_j = rng.uniform(1.5, 6.0, size=(E, h, w)).astype(np.float32)
    pred = PairPredictions(edges=edges, pts_i=pts_i, pts_j=pts_j, conf_i=conf_i, conf_j=conf_j)
    return SyntheticProblem(predictions=pred, gt_T_world_cam=T, gt_depth=depth,
                            K=np.tile(K, (num_frames, 1, 1)))


def depth_abs_rel(pred: np.ndarray, gt: np.ndarray) -> float:
    """Abs Rel after one median scale over the whole sequence."""
    s = np.median(gt) / np.median(pred)
    return float(np.mean(np.abs(s * pred - gt) / gt))


def ate(T_est: np.ndarray, T_gt: np.ndarray) -> float:
    """RMSE of camera centres after a Sim(3) Umeyama alignment to ground truth."""
    sim = umeyama_alignment(T_est[:, :3, 3], T_gt[:, :3, 3])
    err = sim.apply(T_est[:, :3, 3]) - T_gt[:, :3, 3]
    return float(np.sqrt((err ** 2).sum(1).mean()))


def trajectory_length(T_gt: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(T_gt[:, :3, 3], axis=0), axis=1).sum())
