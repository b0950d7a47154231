"""Tracking one frame against fixed keyframes: pose and scale by robust closed form.

For each edge (f, k) between the new frame f and a keyframe k, the pairwise network predicts,
in f's camera frame and at an unknown pair scale, f's own points ``pts_i`` and k's points
``pts_j``. Keyframe k's world points X_k(p) are known (its depth, pose and the shared K), so one
rigid pose (R, c) of f (camera-to-world) and one scale s_k per edge satisfy

    X_k(p) ≈ s_k R pts_j,k(p) + c        on k's confident static pixels.

The fit alternates the closed-form blocks — per-edge scale by weighted least squares, then the
pose by weighted Procrustes over all edges — inside a few IRLS steps (weights
log(conf) / max(‖r‖, floor): an L1-like robust norm, so moving objects and bad predictions
barely move the pose). Only a fixed subsample of pixels is used (``live.track_pixels`` per
edge), so the cost is constant per frame. f's depth is then its own point map at its scale,
``s_k pts_i,k.z``, averaged over the edges with log-confidence weights.

Everything runs in torch on the tensors' device (``runtime.device``); nothing here copies to
the host except a handful of scalars for the status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from align3r_ros.geometry.torch_ops import weighted_procrustes

#: Residual floor of the IRLS weights, relative to the median residual.
RESIDUAL_FLOOR = 1e-2


@dataclass(frozen=True)
class TrackInput:
    """One edge (f, k) of a tracking problem, on one device.

    Attributes:
        pts_i: (h, w, 3) f's points in f's camera frame, pair units.
        conf_i: (h, w) their confidence (>= 1).
        pts_j: (h, w, 3) keyframe k's points in f's camera frame, pair units.
        conf_j: (h, w) their confidence.
        X_world: (h, w, 3) keyframe k's known world points (alignment units).
        usable: (h, w) bool, keyframe pixels allowed in the fit (finite, not dynamic).
    """

    pts_i: torch.Tensor
    conf_i: torch.Tensor
    pts_j: torch.Tensor
    conf_j: torch.Tensor
    X_world: torch.Tensor
    usable: torch.Tensor


@dataclass(frozen=True)
class TrackFit:
    """The fitted pose of f and per-edge scales.

    Attributes:
        R: (3, 3) camera-to-world rotation.
        c: (3,) camera centre, world units.
        scales: (m,) pair scale of each edge (pair units -> world units).
        inlier_fraction: fraction of the sampled pixels whose residual is below the inlier
            threshold relative to their distance from f's camera.
        support: pixels that entered the fit (all edges).
        residual: mean relative residual (over the distance to f's camera) of the inliers.
    """

    R: torch.Tensor
    c: torch.Tensor
    scales: torch.Tensor
    inlier_fraction: float
    support: int
    residual: float

    def T_world_cam(self) -> torch.Tensor:
        """(4, 4) float64 camera-to-world on the fit's device."""
        T = torch.eye(4, dtype=torch.float64, device=self.R.device)
        T[:3, :3] = self.R.double()
        T[:3, 3] = self.c.double()
        return T


def sample_pixels(mask: torch.Tensor, budget: int, generator: torch.Generator) -> torch.Tensor:
    """(n,) flat indices of at most ``budget`` True pixels of ``mask`` (uniform, no repeats)."""
    index = torch.nonzero(mask.reshape(-1), as_tuple=False)[:, 0]
    if index.numel() <= budget:
        return index
    pick = torch.randperm(index.numel(), generator=generator, device='cpu')[:budget]
    return index[pick.to(index.device)]


def fit_pose(edges: Sequence[TrackInput], budget: int, iterations: int,
             inlier_threshold: float, min_pixels: int, min_log_conf: float,
             generator: torch.Generator) -> TrackFit:
    """Robust pose and per-edge scales of f (see module docstring).

    Args:
        edges: the m >= 1 edges, all on one device.
        budget: pixels sampled per edge.
        iterations: IRLS steps.
        inlier_threshold: relative residual (residual / distance to f's camera) of an inlier.
        min_pixels: fewer usable pixels in total than this raises ``ValueError``.
        min_log_conf: log of the confidence below which a pixel is not used.
        generator: CPU generator of the pixel subsample (deterministic runs).

    Raises:
        ValueError: too few confident usable pixels (the caller reports tracking failed).
    """
    src, dst, w0, edge_of = [], [], [], []
    for k, edge in enumerate(edges):
        log_conf = torch.log(edge.conf_j.clamp_min(1.0)).reshape(-1)
        pts = edge.pts_j.reshape(-1, 3)
        X = edge.X_world.reshape(-1, 3)
        ok = (edge.usable.reshape(-1) & (log_conf >= min_log_conf)
              & torch.isfinite(pts).all(-1) & torch.isfinite(X).all(-1))
        pick = sample_pixels(ok, budget, generator)
        src.append(pts[pick].double())
        dst.append(X[pick].double())
        w0.append(log_conf[pick].double())
        edge_of.append(torch.full((pick.numel(),), k, dtype=torch.long, device=pts.device))
    src_all, dst_all = torch.cat(src), torch.cat(dst)
    w_all, edge_all = torch.cat(w0), torch.cat(edge_of)
    if src_all.shape[0] < max(min_pixels, 3):
        raise ValueError(f'{src_all.shape[0]} confident keyframe pixels (need {min_pixels})')
    m = len(edges)
    device = src_all.device
    scales = torch.ones(m, dtype=torch.float64, device=device)
    weight = w_all
    # start: per-edge scale from spreads, then Procrustes (no pose guess needed)
    for k in range(m):
        sel = edge_all == k
        if bool(sel.any()):
            s_spread = (src_all[sel] - src_all[sel].mean(0)).norm(dim=-1).mean()
            d_spread = (dst_all[sel] - dst_all[sel].mean(0)).norm(dim=-1).mean()
            scales[k] = d_spread / s_spread.clamp_min(1e-30)
    R, c = weighted_procrustes(scales[edge_all, None] * src_all, dst_all, weight)
    for _ in range(iterations):
        rotated = src_all @ R.T
        target = dst_all - c
        num = torch.zeros(m, dtype=torch.float64, device=device).index_add_(
            0, edge_all, weight * (rotated * target).sum(-1))
        den = torch.zeros(m, dtype=torch.float64, device=device).index_add_(
            0, edge_all, weight * (rotated * rotated).sum(-1))
        scales = torch.where(den > 0, num / den.clamp_min(1e-30), scales).clamp_min(1e-12)
        R, c = weighted_procrustes(scales[edge_all, None] * src_all, dst_all, weight)
        residual = (dst_all - (scales[edge_all, None] * src_all @ R.T + c)).norm(dim=-1)
        floor = RESIDUAL_FLOOR * residual.median().clamp_min(1e-12)
        weight = w_all / residual.clamp_min(floor)
    residual = (dst_all - (scales[edge_all, None] * src_all @ R.T + c)).norm(dim=-1)
    distance = (dst_all - c).norm(dim=-1).clamp_min(1e-12)
    relative = residual / distance
    inlier = relative < inlier_threshold
    mean_residual = float(relative[inlier].mean()) if bool(inlier.any()) else float('nan')
    return TrackFit(R=R, c=c, scales=scales, inlier_fraction=float(inlier.double().mean()),
                    support=int(src_all.shape[0]), residual=mean_residual)


def frame_depth(edges: Sequence[TrackInput], scales: torch.Tensor) -> tuple:
    """f's depth and confidence from its own point maps at the fitted scales.

    Returns:
        depth (h, w) float32 (NaN where no edge has a finite positive value), confidence (h, w)
        float32 (max over edges), and the per-edge camera-frame points (m, h, w, 3) float32
        at world scale (for the dynamic mask).
    """
    points = torch.stack([s.float() * e.pts_i.float() for e, s in zip(edges, scales)])
    conf = torch.stack([e.conf_i.float() for e in edges])
    z = points[..., 2]
    ok = torch.isfinite(z) & (z > 0)
    w = torch.where(ok, torch.log(conf.clamp_min(1.0)) + 1e-6, torch.zeros_like(z))
    depth = (torch.where(ok, z, torch.zeros_like(z)) * w).sum(0) / w.sum(0).clamp_min(1e-30)
    depth = torch.where(ok.any(0), depth, torch.full_like(depth, float('nan')))
    return depth, conf.max(0).values, points
