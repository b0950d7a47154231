"""The alignment objective as pure functions of (parameters, problem) (spec §5.3).

L = Σ_e Σ_p w_i^e(p)·‖X_i(p) − P_e X̂_i^e(p)‖ / (E·P) + (same for view j)
    + λ_t Σ_n (‖R_Δn − I‖_F + λ_tr·‖t_Δn‖),  Δn = T_n⁻¹ T_{n+1},
with X_n(p) = T_world_cam[n]·(D_n(p)·((u − cx)/fx, (v − cy)/fy, 1)) the current world points.
The residual is the Euclidean norm, not squared (the reference's ``dist='l1'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from align3r_ros.align.params import (AlignmentParams, focal_lengths, pair_matrices,
                                      pose_matrices)
from align3r_ros.align.problem import AlignmentProblem
from align3r_ros.geometry.torch_ops import unproject


@dataclass(frozen=True)
class ObjectiveData:
    """The problem's arrays as torch tensors of one dtype on one device (built once per solve).

    Attributes:
        edge_i, edge_j: (E,) int64.
        pts_i, pts_j: (E, P, 3); weight_i, weight_j: (E, P).
        grid_u, grid_v: (P,) pixel coordinates.
        fixed_fx, fixed_fy, fixed_cx, fixed_cy: (N,) known intrinsics, or None.
        cx, cy: (N,) estimated-mode principal point (w/2, h/2).
        anchor_pose_mask (N,) bool, anchor_T (N, 4, 4), anchor_depth_mask (N,) bool,
        anchor_depth (N, P).
    """

    num_frames: int
    edge_i: torch.Tensor
    edge_j: torch.Tensor
    pts_i: torch.Tensor
    pts_j: torch.Tensor
    weight_i: torch.Tensor
    weight_j: torch.Tensor
    grid_u: torch.Tensor
    grid_v: torch.Tensor
    fixed_fx: Optional[torch.Tensor]
    fixed_fy: Optional[torch.Tensor]
    cx: torch.Tensor
    cy: torch.Tensor
    anchor_pose_mask: torch.Tensor
    anchor_T: torch.Tensor
    anchor_depth_mask: torch.Tensor
    anchor_depth: torch.Tensor
    pin_scale: bool
    temporal_weight: float
    translation_weight: float


@dataclass(frozen=True)
class LossTerms:
    """Scalar tensors: the two alignment terms, the unweighted temporal sum and the total."""

    li: torch.Tensor
    lj: torch.Tensor
    temporal: torch.Tensor
    total: torch.Tensor


def objective_data(problem: AlignmentProblem, dtype: torch.dtype = torch.float32,
                   device: Optional[torch.device] = None) -> ObjectiveData:
    """Convert the problem once into tensors of ``dtype`` on ``device`` (None: cpu).

    This is the one host-to-device copy of a solve; everything the solvers compute from these
    tensors stays on their device.
    """
    def t(a):
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

    def index(a):
        return torch.as_tensor(np.asarray(a), device=device)

    h, w = problem.shape
    v, u = np.mgrid[:h, :w]
    N = problem.num_frames
    intr = problem.intrinsics
    if intr is None:
        cx, cy = problem.principal_point
        cx_t, cy_t = t(np.full(N, cx)), t(np.full(N, cy))
        fx_t = fy_t = None
    else:
        cx_t, cy_t, fx_t, fy_t = t(intr.cx), t(intr.cy), t(intr.fx), t(intr.fy)
    anchors = problem.anchors
    return ObjectiveData(
        num_frames=N,
        edge_i=index(problem.edges[:, 0]), edge_j=index(problem.edges[:, 1]),
        pts_i=t(problem.pts_i), pts_j=t(problem.pts_j),
        weight_i=t(problem.weight_i), weight_j=t(problem.weight_j),
        grid_u=t(u.reshape(-1)), grid_v=t(v.reshape(-1)),
        fixed_fx=fx_t, fixed_fy=fy_t, cx=cx_t, cy=cy_t,
        anchor_pose_mask=index(anchors.pose_mask), anchor_T=t(anchors.T_world_cam),
        anchor_depth_mask=index(anchors.depth_mask), anchor_depth=t(anchors.depth),
        pin_scale=problem.pin_scale, temporal_weight=problem.temporal_weight,
        translation_weight=problem.translation_weight)


def camera_poses(params: AlignmentParams, data: ObjectiveData) -> torch.Tensor:
    """(N, 4, 4) camera-to-world, anchored frames substituted by their fixed pose."""
    T = pose_matrices(params.im_pose)
    return torch.where(data.anchor_pose_mask[:, None, None], data.anchor_T, T)


def depth_maps(params: AlignmentParams, data: ObjectiveData) -> torch.Tensor:
    """(N, P) depths, depth-anchored frames substituted by their fixed depth."""
    return torch.where(data.anchor_depth_mask[:, None], data.anchor_depth,
                       params.log_depth.exp())


def intrinsics(params: AlignmentParams, data: ObjectiveData) -> tuple:
    """(fx, fy, cx, cy), each (N,) pixels: fixed when known, else the focal parameter."""
    if data.fixed_fx is not None:
        return data.fixed_fx, data.fixed_fy, data.cx, data.cy
    f = focal_lengths(params.focal, data.num_frames)
    return f, f, data.cx, data.cy


def camera_points(depth: torch.Tensor, fx, fy, cx, cy, data: ObjectiveData) -> torch.Tensor:
    """(N, P, 3) camera-frame points of (N, P) depths at the problem's pixel grid."""
    return unproject(depth, data.grid_u[None], data.grid_v[None], fx[:, None], fy[:, None],
                     cx[:, None], cy[:, None])


def world_points(params: AlignmentParams, data: ObjectiveData) -> torch.Tensor:
    """(N, P, 3) current world points X_n(p)."""
    T = camera_poses(params, data)
    pts = camera_points(depth_maps(params, data), *intrinsics(params, data), data)
    return pts @ T[:, :3, :3].transpose(1, 2) + T[:, None, :3, 3]


def transform_pairs(P: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """Apply (E, 4, 4) similarities to (E, P, 3) points."""
    return pts @ P[:, :3, :3].transpose(1, 2) + P[:, None, :3, 3]


def temporal_terms(T: torch.Tensor, translation_weight: float) -> torch.Tensor:
    """(N−1,) smoothing terms ‖R_Δ − I‖_F + λ_tr‖t_Δ‖ of consecutive camera-to-world poses."""
    R0, R1 = T[:-1, :3, :3], T[1:, :3, :3]
    R_delta = R0.transpose(1, 2) @ R1
    t_delta = (R0.transpose(1, 2) @ (T[1:, :3, 3] - T[:-1, :3, 3])[..., None])[..., 0]
    eye = torch.eye(3, dtype=T.dtype, device=T.device)
    rot = (R_delta - eye).flatten(1).norm(dim=1)
    return rot + translation_weight * t_delta.norm(dim=1)


def evaluate_loss(params: AlignmentParams, data: ObjectiveData) -> LossTerms:
    """The objective and its terms (differentiable w.r.t. ``params``)."""
    X = world_points(params, data)
    P = pair_matrices(params.pw_pose, data.pin_scale)
    E, Np = data.pts_i.shape[:2]
    area = float(E * Np)
    li = ((X[data.edge_i] - transform_pairs(P, data.pts_i)).norm(dim=-1)
          * data.weight_i).sum() / area
    lj = ((X[data.edge_j] - transform_pairs(P, data.pts_j)).norm(dim=-1)
          * data.weight_j).sum() / area
    total = li + lj
    if data.temporal_weight > 0 and data.num_frames > 1:
        temporal = temporal_terms(camera_poses(params, data), data.translation_weight).sum()
        total = total + data.temporal_weight * temporal
    else:
        temporal = torch.zeros((), dtype=X.dtype, device=X.device)
    return LossTerms(li=li, lj=lj, temporal=temporal, total=total)
