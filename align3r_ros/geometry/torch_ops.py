"""The geometry vocabulary in torch, on the tensors' device (the alignment and live mode).

The same conventions as the numpy modules beside it: rotations act on column vectors,
``T_a_b`` maps frame b into frame a, pixel centres at integer coordinates, quaternions xyzw.
Everything is differentiable where torch is. Imported by name (``geometry/__init__`` stays
numpy-only, so messages and launch files never load torch).
"""

from __future__ import annotations

from typing import Tuple

import torch


def quaternion_to_rotation(q_xyzw: torch.Tensor) -> torch.Tensor:
    """(..., 4) xyzw quaternions (any norm) -> (..., 3, 3) rotations."""
    q = q_xyzw / q_xyzw.norm(dim=-1, keepdim=True)
    x, y, z, w = q.unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    rows = [1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy)]
    return torch.stack(rows, dim=-1).reshape(q.shape[:-1] + (3, 3))


def rotation_log(R: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotations -> (B, 3) rotation vectors (angles well below π)."""
    cos = ((R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    angle = torch.arccos(cos)
    axis = torch.stack([R[:, 2, 1] - R[:, 1, 2], R[:, 0, 2] - R[:, 2, 0],
                        R[:, 1, 0] - R[:, 0, 1]], dim=-1)
    factor = torch.where(angle > 1e-8, angle / (2 * torch.sin(angle).clamp_min(1e-12)),
                         torch.full_like(angle, 0.5))
    return axis * factor[:, None]


def rotation_exp(w: torch.Tensor) -> torch.Tensor:
    """(B, 3) rotation vectors -> (B, 3, 3) rotations (Rodrigues)."""
    angle = w.norm(dim=-1, keepdim=True)
    axis = w / angle.clamp_min(1e-12)
    K = torch.zeros(w.shape[0], 3, 3, dtype=w.dtype, device=w.device)
    K[:, 0, 1], K[:, 0, 2] = -axis[:, 2], axis[:, 1]
    K[:, 1, 0], K[:, 1, 2] = axis[:, 2], -axis[:, 0]
    K[:, 2, 0], K[:, 2, 1] = -axis[:, 1], axis[:, 0]
    s = torch.sin(angle)[..., None]
    c = torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand_as(K)
    return eye + s * K + (1 - c) * (K @ K)


def svd_rotation(cov: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rotation R maximising tr(R^T cov) for (B, 3, 3) cov, and the sign-corrected S-trace."""
    U, S, Vh = torch.linalg.svd(cov)
    d = torch.sign(torch.det(U @ Vh))
    d = torch.where(d == 0, torch.ones_like(d), d)
    D = torch.ones_like(S)
    D[:, 2] = d
    R = U @ torch.diag_embed(D) @ Vh
    return R, (S * D).sum(-1)


def weighted_umeyama(src: torch.Tensor, dst: torch.Tensor, w: torch.Tensor,
                     with_scale: bool) -> tuple:
    """Batched weighted Umeyama on (B, P, 3) src/dst with (B, P) weights.

    Returns:
        R (B, 3, 3), t (B, 3), s (B,) with dst ≈ s R src + t (in src's dtype; s = 1 without
        ``with_scale``), plus the float64 terms (a, b, μ_s, μ_d, R) of the scale quadratic
        Σw‖dst_c − s R src_c‖² = const − 2 a s + b s² (the solver's pinned-scale update).
    """
    wsum = w.sum(1).clamp_min(1e-30)
    wn = (w / wsum[:, None])[:, None, :]                      # (B, 1, P)
    mu_s = (wn @ src)[:, 0]
    mu_d = (wn @ dst)[:, 0]
    src_c = src - mu_s[:, None]
    dst_c = dst - mu_d[:, None]
    cov = ((dst_c * w[..., None]).transpose(1, 2) @ src_c).double()
    R, a = svd_rotation(cov)
    b = (w * (src_c * src_c).sum(-1)).sum(1).double()
    mu_s, mu_d = mu_s.double(), mu_d.double()
    s = a / b.clamp_min(1e-30) if with_scale else torch.ones_like(a)
    t = mu_d - s[:, None] * torch.einsum('bij,bj->bi', R, mu_s)
    return R.to(src.dtype), t.to(src.dtype), s.to(src.dtype), (a, b, mu_s, mu_d, R)


def weighted_procrustes(src: torch.Tensor, dst: torch.Tensor,
                        w: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rigid (R, t) minimising Σ w ‖dst − (R src + t)‖² for (P, 3) points and (P,) weights."""
    R, t, _, _ = weighted_umeyama(src[None], dst[None], w[None], with_scale=False)
    return R[0], t[0]


def unproject(depth: torch.Tensor, u: torch.Tensor, v: torch.Tensor, fx, fy, cx,
              cy) -> torch.Tensor:
    """(..., 3) camera-frame points of depths at pixels (u, v): ``x = z (u − cx) / fx``.

    Every argument broadcasts against ``depth`` (e.g. (N, P) depths with (1, P) pixels and
    (N, 1) intrinsics, or an (h, w) map with (h, w) pixels and scalars).
    """
    x = depth * (u - cx) / fx
    y = depth * (v - cy) / fy
    return torch.stack([x, y, depth], dim=-1)


def unproject_depth_map(depth: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """(h, w, 3) camera-frame points of an (h, w) depth map with intrinsics K (3, 3)."""
    h, w = depth.shape
    K = K.to(depth.dtype)
    v, u = torch.meshgrid(torch.arange(h, device=depth.device, dtype=depth.dtype),
                          torch.arange(w, device=depth.device, dtype=depth.dtype),
                          indexing='ij')
    return unproject(depth, u, v, K[0, 0], K[1, 1], K[0, 2], K[1, 2])


def project(points: torch.Tensor, K: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """Pixels (u, v) and depth z of (..., 3) camera-frame points with intrinsics K (3, 3).

    Points at or behind the camera (z <= 1e-9) are divided by 1 instead of z: their (u, v)
    are finite but meaningless, so callers test ``z > 1e-9``.
    """
    K = K.to(points.dtype)
    z = points[..., 2]
    zs = torch.where(z > 1e-9, z, torch.ones_like(z))
    u = K[0, 0] * points[..., 0] / zs + K[0, 2]
    v = K[1, 1] * points[..., 1] / zs + K[1, 2]
    return u, v, z
