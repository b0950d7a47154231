"""The fast solver (``solver: fast``): majorise–minimise block updates of the same objective.

The objective (spec §5.3) is a weighted sum of Euclidean norms. Each outer iteration fixes the
IRLS weights ω = w / max(‖r‖, δ) (a quadratic majoriser of every norm at the current state)
and then minimises that quadratic block by block, every block in closed form:

1. pairwise similarities: weighted Umeyama of [X̂_i; X̂_j] onto the current world points of
   frames i and j, all edges batched (one 3x3 SVD per edge);
   with the gauge as a constraint: the scales minimise the majoriser subject to their
   geometric mean being 0.5 (one Lagrange multiplier, found by bisection), unless anchors
   fix the scale;
2. per frame, the quadratic collapses onto one weighted mean target Ȳ_n(p) per pixel (the
   aligned predictions of every edge containing the frame): the camera pose by weighted rigid
   Procrustes of its current camera-frame points onto Ȳ_n, then every depth in closed form as
   the projection of Ȳ_n(p) on the pixel's ray, then the focal (1/f by linear least squares).

Anchored frames skip their pose (and depth) update. The temporal smoothing term is not part of
the block updates; when its weight is positive a short Adam polish on the full objective
follows. Everything is vectorised over edges and frames in torch, on the device of the
objective's tensors (the pixel subset is drawn on the cpu generator, then moved, so that every
device solves on the same pixels).

Just over 300 lines: one solver whose block updates share the same buffers and iteration loop.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
import torch

from align3r_ros.align.motion_averaging import sim3_corrections
from align3r_ros.align.objective import ObjectiveData, evaluate_loss
from align3r_ros.align.optimise import run_adam
from align3r_ros.align.params import (AlignmentParams, BASE_SCALE, FOCAL_BREAK, encode_pose,
                                      focal_lengths, pair_scales, pose_matrices)
from align3r_ros.align.problem import AlignmentProblem
from align3r_ros.config import AlignConfig, Schedule
from align3r_ros.geometry.torch_ops import weighted_umeyama

#: Outer majorise-minimise iterations.
OUTER_ITERATIONS = 10
#: Outer iterations that start with the global Sim(3) correction.
GLOBAL_STEPS = frozenset({0, 1, 2, 4, 7})
#: Pixels per edge used by the pairwise similarity update.
PAIR_SUBSET = 2048
#: Residual floor of the IRLS weights, relative to the median residual.
RESIDUAL_FLOOR = 1e-3
#: Adam polish (only when temporal smoothing is on): iterations and learning rates.
POLISH_ITERATIONS = 30
POLISH_LR = (1e-3, 1e-4)


def pinned_scales(a: torch.Tensor, b: torch.Tensor, log_target: float) -> torch.Tensor:
    """Minimise Σ_e (b_e s_e² − 2 a_e s_e) subject to mean_e log s_e = log_target.

    Stationarity gives 2 b s² − 2 a s = λ, i.e. s(λ) = (a + sqrt(a² + 2 b λ)) / (2 b), whose
    mean log is increasing in λ: λ is found by bisection (float64).
    """
    a = a.double()
    b = b.double().clamp_min(1e-300)
    lam_low = float((-(a * a) / (2 * b)).max())

    def scales(lam):
        return (a + torch.sqrt((a * a + 2 * b * lam).clamp_min(0.0))) / (2 * b)

    def mean_log(lam):
        return float(torch.log(scales(lam).clamp_min(1e-300)).mean())

    lo, hi = lam_low, abs(lam_low) + 1.0
    while mean_log(hi) < log_target:
        hi = hi * 2 + 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if mean_log(mid) < log_target:
            lo = mid
        else:
            hi = mid
    return scales(0.5 * (lo + hi))


class _State:
    """Explicit variables of the block updates (camera-to-world R, c; depths; intrinsics;
    pairwise similarities X_world = s R X̂ + t)."""

    def __init__(self, params: AlignmentParams, data: ObjectiveData, problem: AlignmentProblem):
        with torch.no_grad():
            T = pose_matrices(params.im_pose)
            T = torch.where(data.anchor_pose_mask[:, None, None], data.anchor_T, T)
            self.R = T[:, :3, :3].clone()
            self.c = T[:, :3, 3].clone()
            self.depth = torch.where(data.anchor_depth_mask[:, None], data.anchor_depth,
                                     params.log_depth.exp())
            N = data.num_frames
            if data.fixed_fx is None:
                f = focal_lengths(params.focal, N).clone()
                self.inv_fx = 1.0 / f
                self.inv_fy = self.inv_fx
            else:
                self.inv_fx, self.inv_fy = 1.0 / data.fixed_fx, 1.0 / data.fixed_fy
            P = pose_matrices(params.pw_pose)
            self.pw_s = pair_scales(params.pw_pose, problem.pin_scale).clone()
            self.pw_R = P[:, :3, :3].clone()
            self.pw_t = P[:, :3, 3] * self.pw_s[:, None]
        self.data = data

    def rays(self) -> torch.Tensor:
        """(N, P, 3) camera-frame rays ((u − cx)/fx, (v − cy)/fy, 1)."""
        d = self.data
        x = (d.grid_u[None] - d.cx[:, None]) * self.inv_fx[:, None]
        y = (d.grid_v[None] - d.cy[:, None]) * self.inv_fy[:, None]
        return torch.stack([x, y, torch.ones_like(x)], dim=-1)

    def world_points(self) -> torch.Tensor:
        pts = self.depth[..., None] * self.rays()
        return pts @ self.R.transpose(1, 2) + self.c[:, None]

    def aligned(self, pts: torch.Tensor) -> torch.Tensor:
        return (self.pw_s[:, None, None] * (pts @ self.pw_R.transpose(1, 2))
                + self.pw_t[:, None])


def _residual_floor(res: torch.Tensor, weight: torch.Tensor) -> float:
    return RESIDUAL_FLOOR * float(res[weight > 0].median()) + 1e-12


def _update_pairs(X, state, data, problem, subset) -> None:
    """Pinned-scale weighted Umeyama of every edge on a fixed pixel subset (7 unknowns per
    edge are well determined by a few thousand points)."""
    Xs = X[:, subset]
    src_i, src_j = data.pts_i[:, subset], data.pts_j[:, subset]
    dst_i, dst_j = Xs[data.edge_i], Xs[data.edge_j]
    res_i = (dst_i - state.aligned(src_i)).norm(dim=-1)
    res_j = (dst_j - state.aligned(src_j)).norm(dim=-1)
    wt_i, wt_j = data.weight_i[:, subset], data.weight_j[:, subset]
    floor = _residual_floor(res_i, wt_i)
    w = torch.cat([wt_i / res_i.clamp_min(floor), wt_j / res_j.clamp_min(floor)], dim=1)
    R, t, s, (a, b, mu_s, mu_d, R64) = weighted_umeyama(
        torch.cat([src_i, src_j], dim=1), torch.cat([dst_i, dst_j], dim=1), w,
        with_scale=True)
    if problem.pin_scale:
        s64 = pinned_scales(a, b, math.log(BASE_SCALE))
        t = (mu_d - s64[:, None] * torch.einsum('bij,bj->bi', R64, mu_s)).to(t.dtype)
        s = s64.to(s.dtype)
    state.pw_R, state.pw_t, state.pw_s = R, t, s


def _global_correction(X, state, data, subset) -> None:
    """Apply the motion-averaging Sim(3) correction of every frame (see motion_averaging)."""
    Xs = X[:, subset]
    w_i, w_j = data.weight_i[:, subset], data.weight_j[:, subset]
    sims = []
    for pts, dst, w in ((data.pts_i[:, subset], Xs[data.edge_i], w_i),
                        (data.pts_j[:, subset], Xs[data.edge_j], w_j)):
        _, _, _, (a, b, mu_s, mu_d, R64) = weighted_umeyama(pts, dst, w, with_scale=True)
        s = a / b.clamp_min(1e-30)
        t = mu_d - s[:, None] * torch.einsum('bij,bj->bi', R64, mu_s)
        sims.append((R64, t, s))
    edge_weight = torch.minimum(w_i.sum(1), w_j.sum(1))
    R, t, s = sim3_corrections(sims[0], sims[1], data.edge_i, data.edge_j, edge_weight,
                               state.depth.shape[0], data.anchor_pose_mask)
    R, t, s = R.to(state.R.dtype), t.to(state.R.dtype), s.to(state.R.dtype)
    state.R = R @ state.R
    state.c = s[:, None] * torch.einsum('nij,nj->ni', R, state.c) + t
    state.depth = state.depth * s[:, None]


def _frame_targets(X, state, data, incidence) -> tuple:
    """Per-pixel IRLS-weighted mean of the aligned predictions of each frame.

    Returns:
        target (N, P, 3) and its total weight (N, P).
    """
    inc_i, inc_j = incidence
    N, P = state.depth.shape
    E = data.edge_i.shape[0]
    A_i = state.aligned(data.pts_i)
    A_j = state.aligned(data.pts_j)
    res_i = (X[data.edge_i] - A_i).norm(dim=-1)
    res_j = (X[data.edge_j] - A_j).norm(dim=-1)
    floor = _residual_floor(res_i[:, ::7], data.weight_i[:, ::7])
    w_i = data.weight_i / res_i.clamp_min(floor)
    w_j = data.weight_j / res_j.clamp_min(floor)
    # Scatter over edges as dense (N, E) incidence products: far faster than index_add_.
    wsum = inc_i @ w_i + inc_j @ w_j
    wy = (inc_i @ (w_i[..., None] * A_i).reshape(E, -1)
          + inc_j @ (w_j[..., None] * A_j).reshape(E, -1)).reshape(N, P, 3)
    return wy / wsum.clamp_min(1e-30)[..., None], wsum


def _update_frames(state, data, problem, target, wsum) -> None:
    free_pose = ~data.anchor_pose_mask
    free_depth = ~data.anchor_depth_mask
    rays = state.rays()
    if bool(free_pose.any()):
        src = state.depth[..., None] * rays
        R, t, _, _ = weighted_umeyama(src, target, wsum, with_scale=False)
        state.R = torch.where(free_pose[:, None, None], R, state.R)
        state.c = torch.where(free_pose[:, None], t, state.c)
    rel = torch.einsum('npi,nij->npj', target - state.c[:, None], state.R)  # camera frame
    if data.fixed_fx is None:
        d = data
        au = d.grid_u[None] - d.cx[:, None]
        av = d.grid_v[None] - d.cy[:, None]
        num = wsum * state.depth * (au * rel[..., 0] + av * rel[..., 1])
        den = wsum * state.depth ** 2 * (au ** 2 + av ** 2)
        if problem.shared_focal:
            g = num.sum() / den.sum().clamp_min(1e-30)
            state.inv_fx = torch.full_like(state.inv_fx, float(g))
        else:
            state.inv_fx = num.sum(1) / den.sum(1).clamp_min(1e-30)
        state.inv_fy = state.inv_fx
        rays = state.rays()
    depth = (rel * rays).sum(-1) / (rays * rays).sum(-1)
    floor = 1e-3 * depth.median()
    depth = torch.where(wsum > 0, depth.clamp_min(floor), state.depth)
    state.depth = torch.where(free_depth[:, None], depth, state.depth)


def _write_back(state: _State, params: AlignmentParams, problem: AlignmentProblem) -> None:
    """Encode the explicit state into ``params`` (poses through the host: (N + E) x 7 values,
    the encoding's quaternion branch logic is NumPy; depths and focal stay on the device)."""
    dtype = params.im_pose.dtype
    device = params.im_pose.device
    T = np.tile(np.eye(4), (problem.num_frames, 1, 1))
    T[:, :3, :3] = state.R.double().cpu().numpy()
    T[:, :3, 3] = state.c.double().cpu().numpy()
    E = problem.num_edges
    s = state.pw_s.double().cpu().numpy()
    T_pw = np.tile(np.eye(4), (E, 1, 1))
    T_pw[:, :3, :3] = state.pw_R.double().cpu().numpy()
    T_pw[:, :3, 3] = state.pw_t.double().cpu().numpy() / s[:, None]
    pw = np.concatenate([encode_pose(T_pw), np.log(s)[:, None]], axis=1)
    with torch.no_grad():
        params.im_pose.copy_(torch.as_tensor(encode_pose(T), dtype=dtype, device=device))
        params.log_depth.copy_(state.depth.clamp_min(1e-30).log().to(dtype))
        params.pw_pose.copy_(torch.as_tensor(pw, dtype=dtype, device=device))
        if problem.intrinsics is None:
            f = (1.0 / state.inv_fx).double()
            f = f[:1] if params.focal.shape[0] == 1 else f
            params.focal.copy_((FOCAL_BREAK * f.log())[:, None].to(dtype))


def solve_fast(params: AlignmentParams, data: ObjectiveData, problem: AlignmentProblem,
               config: AlignConfig, on_step: Optional[Callable[[int, float], None]] = None,
               iterations: int = OUTER_ITERATIONS) -> int:
    """Refine ``params`` in place from their initial state; returns the iterations run."""
    state = _State(params, data, problem)
    N, P = state.depth.shape
    E = problem.num_edges
    device = data.pts_i.device
    generator = torch.Generator().manual_seed(0)
    subset = torch.randperm(P, generator=generator)[:min(P, PAIR_SUBSET)].sort().values
    subset = subset.to(device)
    inc_i = torch.zeros(N, E, dtype=data.pts_i.dtype, device=device)
    inc_j = torch.zeros(N, E, dtype=data.pts_i.dtype, device=device)
    columns = torch.arange(E, device=device)
    inc_i[data.edge_i, columns] = 1
    inc_j[data.edge_j, columns] = 1
    with torch.no_grad():
        for it in range(iterations):
            if it in GLOBAL_STEPS:
                _global_correction(state.world_points(), state, data, subset)
            X = state.world_points()
            _update_pairs(X, state, data, problem, subset)
            target, wsum = _frame_targets(X, state, data, (inc_i, inc_j))
            _update_frames(state, data, problem, target, wsum)
            if on_step is not None:
                _write_back(state, params, problem)
                on_step(it, float(evaluate_loss(params, data).total))
    _write_back(state, params, problem)
    if problem.temporal_weight > 0:
        run_adam(params, data, POLISH_ITERATIONS, POLISH_LR[0], POLISH_LR[1], Schedule.LINEAR,
                 train_focal=problem.intrinsics is None)
        return iterations + POLISH_ITERATIONS
    return iterations
