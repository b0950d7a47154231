"""Similarity transforms and the (weighted) Umeyama alignment — the one implementation, used by
the alignment's initialisation and by the trajectory metrics (evo's protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from align3r_ros.errors import AlignmentError, InputError


@dataclass(frozen=True)
class Sim3:
    """A similarity ``y = scale · R x + t`` (T_dst_src with a uniform scale).

    Attributes:
        scale: uniform scale (> 0).
        R: (3, 3) float64 rotation.
        t: (3,) float64 translation, destination units.
    """

    scale: float
    R: np.ndarray
    t: np.ndarray

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """Transform points (..., 3)."""
        return self.scale * np.asarray(pts, dtype=np.float64) @ self.R.T + self.t

    def apply_to_poses(self, T_src_cam: np.ndarray) -> np.ndarray:
        """(N, 4, 4) camera-to-source poses mapped into the destination frame, staying rigid:
        rotation R·R_k, translation scale·R·t_k + t (as evo's ``PoseTrajectory3D.align``)."""
        out = np.array(T_src_cam, dtype=np.float64, copy=True)
        out[:, :3, :3] = self.R @ out[:, :3, :3]
        out[:, :3, 3] = self.scale * out[:, :3, 3] @ self.R.T + self.t
        return out


def umeyama_alignment(src: np.ndarray, dst: np.ndarray, weights: Optional[np.ndarray] = None,
                      with_scale: bool = True, min_rank: int = 0) -> Sim3:
    """Least-squares similarity (or rigid) transform mapping ``src`` onto ``dst``.

    Minimises Σ w_k ‖dst_k − (s R src_k + t)‖² (Umeyama 1991; weighted when ``weights`` given).

    Args:
        src, dst: (P, 3) corresponding points (any (..., 3) is flattened).
        weights: (P,) non-negative weights, None for uniform (plain means, as evo computes).
        with_scale: estimate s, else s = 1. A source without spread gets s = 1.
        min_rank: require at least this many singular values of the 3x3 cross-covariance above
            machine epsilon (evo's rule is 2: fewer means the rotation is undetermined, e.g. a
            camera that does not move).

    Returns:
        The :class:`Sim3`.

    Raises:
        InputError: mismatched shapes, or weights that sum to zero (a ValueError).
        AlignmentError: the covariance rank is below ``min_rank``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape[-1:] != (3,) or dst.shape[-1:] != (3,) or src.size != dst.size:
        raise InputError(f'Umeyama needs two (P, 3) arrays, got {src.shape} and {dst.shape}')
    src = src.reshape(-1, 3)
    dst = dst.reshape(-1, 3)
    if weights is None:
        n = src.shape[0]
        mu_s = src.mean(axis=0)
        mu_d = dst.mean(axis=0)
        sc = src - mu_s
        dc = dst - mu_d
        cov = dc.T @ sc / n
        var_s = float((sc ** 2).sum()) / n
    else:
        w = np.asarray(weights, np.float64).ravel()
        total = w.sum()
        if not total > 0:
            raise InputError(f'umeyama_alignment: weights sum to {total}')
        w = w / total
        mu_s = w @ src
        mu_d = w @ dst
        sc = src - mu_s
        dc = dst - mu_d
        cov = (dc * w[:, None]).T @ sc
        var_s = float(w @ (sc ** 2).sum(axis=1))
    U, S, Vt = np.linalg.svd(cov)
    if min_rank and np.count_nonzero(S > np.finfo(S.dtype).eps) < min_rank:
        raise AlignmentError('Degenerate covariance rank, Umeyama alignment is not possible')
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1.0
    R = U @ D @ Vt
    s = float(np.trace(np.diag(S) @ D) / var_s) if with_scale and var_s > 0 else 1.0
    t = mu_d - s * R @ mu_s
    return Sim3(scale=s, R=R, t=t)
