"""Similarity transforms and the (weighted) Umeyama alignment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Sim3:
    """y = scale · R x + t.

    Attributes:
        scale: uniform scale (> 0).
        R: (3, 3) float64 rotation.
        t: (3,) float64 translation.
    """

    scale: float
    R: np.ndarray
    t: np.ndarray

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """Transform points (..., 3)."""
        return self.scale * np.asarray(pts, dtype=np.float64) @ self.R.T + self.t

    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous matrix with the scale folded into the 3x3 block."""
        T = np.eye(4)
        T[:3, :3] = self.scale * self.R
        T[:3, 3] = self.t
        return T


def umeyama_alignment(src: np.ndarray, dst: np.ndarray, weights: Optional[np.ndarray] = None,
                      with_scale: bool = True) -> Sim3:
    """Least-squares similarity (or rigid) transform mapping ``src`` onto ``dst``.

    Minimises Σ w_k ‖dst_k − (s R src_k + t)‖² (Umeyama 1991, weighted).

    Args:
        src, dst: (P, 3) corresponding points.
        weights: (P,) non-negative weights, None for uniform.
        with_scale: estimate s, else s = 1.

    Returns:
        The :class:`Sim3`. A degenerate input (all weights zero) raises ValueError.
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 3)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 3)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64).ravel()
    total = w.sum()
    if not total > 0:
        raise ValueError(f'umeyama_alignment: weights sum to {total}')
    w = w / total
    mu_s = w @ src
    mu_d = w @ dst
    sc = src - mu_s
    dc = dst - mu_d
    cov = (dc * w[:, None]).T @ sc
    U, S, Vt = np.linalg.svd(cov)
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1.0
    R = U @ D @ Vt
    if with_scale:
        var_s = float(w @ (sc ** 2).sum(axis=1))
        s = float(np.trace(np.diag(S) @ D) / var_s) if var_s > 0 else 1.0
    else:
        s = 1.0
    t = mu_d - s * R @ mu_s
    return Sim3(scale=s, R=R, t=t)
