"""A global Sim(3) correction of every frame (motion averaging), for the fast solver.

Block updates of the objective only move information one edge per iteration, so drift along a
long pair graph (the low-frequency modes) decays slowly. This step removes it at once.

For every edge e = (i, j) the two views define similarities P_e⁽ⁱ⁾ (``pts_i[e]`` onto frame i's
current world points) and P_e⁽ʲ⁾ (``pts_j[e]`` onto frame j's). In a consistent state they
agree; their discrepancy D_e = P_e⁽ʲ⁾ (P_e⁽ⁱ⁾)⁻¹ is a world-to-world similarity. Corrections
S_n = exp(ξ_n) (ξ = rotation vector, translation, log scale; world frame) applied to each
frame's points must satisfy S_j D_e = S_i; to first order ξ_i − ξ_j = d_e = log D_e. The
weighted linear least-squares problem decouples per component into one graph-Laplacian system
of size N (a small ridge fixes the gauge; anchored frames keep ξ = 0).
"""

from __future__ import annotations

import torch

from align3r_ros.geometry.torch_ops import rotation_exp, rotation_log


def sim3_corrections(sim_i: tuple, sim_j: tuple, edge_i: torch.Tensor, edge_j: torch.Tensor,
                     edge_weight: torch.Tensor, num_frames: int, fixed: torch.Tensor,
                     ridge: float = 1e-6) -> tuple:
    """Per-frame world-frame similarity corrections.

    Args:
        sim_i, sim_j: (R (E, 3, 3), t (E, 3), s (E,)) float64 similarities P_e⁽ⁱ⁾, P_e⁽ʲ⁾.
        edge_i, edge_j: (E,) frame indices.
        edge_weight: (E,) non-negative confidence of each edge's discrepancy.
        num_frames: N.
        fixed: (N,) bool, frames whose correction is forced to identity (anchors).
        ridge: Tikhonov weight relative to the mean edge weight (gauge).

    Returns:
        (R (N, 3, 3), t (N, 3), s (N,)) float64: X ↦ s R X + t for each frame's points.
    """
    Ri, ti, si = sim_i
    Rj, tj, sj = sim_j
    s_d = sj / si
    R_d = Rj @ Ri.transpose(1, 2)
    t_d = tj - s_d[:, None] * torch.einsum('eij,ej->ei', R_d, ti)
    d = torch.cat([rotation_log(R_d), t_d, torch.log(s_d)[:, None]], dim=1)  # (E, 7)
    E = edge_i.shape[0]
    device = edge_weight.device
    inc = torch.zeros(E, num_frames, dtype=torch.float64, device=device)
    rows = torch.arange(E, device=device)
    inc[rows, edge_i] = 1.0
    inc[rows, edge_j] = -1.0                                # row e: ξ_i − ξ_j
    w = edge_weight.double()
    lap = inc.T @ (w[:, None] * inc)
    eye = torch.eye(num_frames, dtype=torch.float64, device=device)
    lap = lap + ridge * float(w.mean()) * eye
    rhs = inc.T @ (w[:, None] * d)                          # (N, 7)
    free = ~fixed
    xi = torch.zeros(num_frames, 7, dtype=torch.float64, device=device)
    if bool(free.any()):
        xi[free] = torch.linalg.solve(lap[free][:, free], rhs[free])
    return rotation_exp(xi[:, :3]), xi[:, 3:6], torch.exp(xi[:, 6])
