"""Parameters from an explicit world state (the reference ``init_from_pts3d``, spec §5.5 step 5).

Used after the MST step and for warm starts. Gauge handling:

* no anchors: pairwise similarities by weighted Procrustes (weights = conf of view i), then the
  world is scaled about the origin so that the pairwise scales have geometric mean 0.5 (the
  reference);
* anchors: the world is first moved by the similarity that best maps the anchored frames onto
  their anchors (rotation averaged over anchors; scale from depth anchors, else from two or
  more anchor centres, else kept); when the scale pin still applies (a single pose-only
  anchor) the world is then scaled about the anchor's camera centre, which keeps it in place.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from align3r_ros.align.params import AlignmentParams, BASE_SCALE, encode_params
from align3r_ros.align.problem import AlignmentProblem, AnchorSet
from align3r_ros.errors import AlignmentError
from align3r_ros.geometry.sim3 import umeyama_alignment


def pairwise_similarities(problem: AlignmentProblem, pts_world: np.ndarray) -> tuple:
    """Per-edge similarity mapping ``pts_i[e]`` onto frame i's world points.

    Returns:
        (R (E, 3, 3), t (E, 3), s (E,)) with X_world ≈ s R X̂ + t.
    """
    E = problem.num_edges
    R = np.zeros((E, 3, 3))
    t = np.zeros((E, 3))
    s = np.zeros(E)
    for e, i in enumerate(problem.edges[:, 0].tolist()):
        try:
            sim = umeyama_alignment(problem.pts_i[e], pts_world[i], problem.conf_i[e])
        except ValueError as exc:
            raise AlignmentError(f'edge {e}: pairwise Procrustes failed ({exc})') from exc
        R[e], t[e], s[e] = sim.R, sim.t, sim.scale
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise AlignmentError('pairwise Procrustes produced a non-positive or non-finite scale')
    return R, t, s


def camera_depths(pts_world: np.ndarray, T_world_cam: np.ndarray) -> np.ndarray:
    """(N, P) z of world points (N, P, 3) in their cameras (N, 4, 4)."""
    R = T_world_cam[:, :3, :3]
    rel = pts_world - T_world_cam[:, None, :3, 3]
    return np.einsum('npk,nk->np', rel, R[:, :, 2])


def _apply_similarity(scale, R, t, pts_world, T_world_cam):
    pts = scale * pts_world @ R.T + t
    T = T_world_cam.copy()
    T[:, :3, :3] = R @ T_world_cam[:, :3, :3]
    T[:, :3, 3] = scale * T_world_cam[:, :3, 3] @ R.T + t
    return pts, T


def _anchor_similarity(anchors: AnchorSet, pts_world, T_world_cam) -> tuple:
    idx = np.flatnonzero(anchors.pose_mask)
    M = sum(anchors.T_world_cam[k, :3, :3] @ T_world_cam[k, :3, :3].T for k in idx)
    U, _, Vt = np.linalg.svd(M)
    R = U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt
    c_anchor = anchors.T_world_cam[idx, :3, 3]
    c_model = T_world_cam[idx, :3, 3]
    scale = 1.0
    if anchors.depth_mask.any():
        kd = np.flatnonzero(anchors.depth_mask)
        model_depth = camera_depths(pts_world[kd], T_world_cam[kd])
        good = model_depth > 0
        if good.any():
            scale = float(np.median(anchors.depth[kd][good] / model_depth[good]))
    elif len(idx) >= 2:
        da = c_anchor - c_anchor.mean(0)
        dm = (c_model - c_model.mean(0)) @ R.T
        denom = float((dm ** 2).sum())
        if denom > 0:
            scale = float((da * dm).sum() / denom)
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    t = c_anchor.mean(0) - scale * R @ c_model.mean(0)
    return scale, R, t


def init_from_points(problem: AlignmentProblem, pts_world: np.ndarray,
                     T_world_cam: np.ndarray, focals: np.ndarray,
                     dtype: torch.dtype = torch.float32,
                     pin_centre: Optional[np.ndarray] = None,
                     device: Optional[torch.device] = None) -> AlignmentParams:
    """Parameters from world points (N, P, 3), poses (N, 4, 4) and focals (N,).

    Args:
        pin_centre: point kept fixed when the world is rescaled by the scale pin (origin
            unless anchors exist).
        dtype, device: of the parameter tensors (the initialisation itself runs on the host).
    """
    pts_world = np.asarray(pts_world, dtype=np.float64)
    T_world_cam = np.asarray(T_world_cam, dtype=np.float64)
    anchors = problem.anchors
    if anchors.any:
        scale, R, t = _anchor_similarity(anchors, pts_world, T_world_cam)
        pts_world, T_world_cam = _apply_similarity(scale, R, t, pts_world, T_world_cam)
        if pin_centre is None:
            pin_centre = anchors.T_world_cam[np.flatnonzero(anchors.pose_mask)[0], :3, 3]
    R_pw, t_pw, s_pw = pairwise_similarities(problem, pts_world)
    if problem.pin_scale:
        g = float(np.exp(np.log(BASE_SCALE) - np.log(s_pw).mean()))
        if pin_centre is None:
            pts_world = pts_world * g
            T_world_cam = T_world_cam.copy()
            T_world_cam[:, :3, 3] *= g
        else:
            c = np.asarray(pin_centre, dtype=np.float64)
            pts_world = c + g * (pts_world - c)
            T_world_cam = T_world_cam.copy()
            T_world_cam[:, :3, 3] = c + g * (T_world_cam[:, :3, 3] - c)
            R_pw, t_pw, s_pw = pairwise_similarities(problem, pts_world)
    T_world_cam = np.where(anchors.pose_mask[:, None, None], anchors.T_world_cam, T_world_cam)
    depth = camera_depths(pts_world, T_world_cam)
    depth = np.where(anchors.depth_mask[:, None], anchors.depth, depth)
    return encode_params(T_world_cam, depth, focals, R_pw, t_pw, s_pw,
                         shared_focal=problem.shared_focal, dtype=dtype, device=device)


def init_from_result(problem: AlignmentProblem, previous, dtype: torch.dtype = torch.float32,
                     device: Optional[torch.device] = None) -> AlignmentParams:
    """Warm start from an :class:`~align3r_ros.align.result.AlignmentResult` of this problem.

    Its poses, depths and intrinsics define the world points; pairwise similarities are refit.
    """
    N = problem.num_frames
    h, w = problem.shape
    T = np.asarray(previous.T_world_cam, dtype=np.float64)
    depth = np.asarray(previous.depth, dtype=np.float64)
    K = np.asarray(previous.K, dtype=np.float64)
    if T.shape != (N, 4, 4) or depth.shape != (N, h, w) or K.shape != (N, 3, 3):
        raise AlignmentError(f'warm start shapes {T.shape}, {depth.shape}, {K.shape} do not '
                             f'match N={N}, (h, w)={(h, w)}')
    if not (np.isfinite(T).all() and np.isfinite(depth).all() and np.isfinite(K).all()):
        raise AlignmentError('warm start contains non-finite values')
    from align3r_ros.geometry.camera import unproject_depth
    pts_cam = unproject_depth(depth, K).reshape(N, h * w, 3)
    pts_world = np.einsum('nij,npj->npi', T[:, :3, :3], pts_cam) + T[:, None, :3, 3]
    return init_from_points(problem, pts_world, T, K[:, 0, 0], dtype=dtype, device=device)
