"""Rigid transforms as 4x4 homogeneous matrices (batch-first)."""

from __future__ import annotations

import numpy as np


def make_transform(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Stack rotation(s) (..., 3, 3) and translation(s) (..., 3) into (..., 4, 4) float64."""
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    T = np.zeros(R.shape[:-2] + (4, 4))
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def invert_transform(T_a_b: np.ndarray) -> np.ndarray:
    """Inverse of rigid (or similarity) transforms (..., 4, 4): returns T_b_a.

    Works for similarities too (the 3x3 block may carry a uniform scale).
    """
    T_a_b = np.asarray(T_a_b, dtype=np.float64)
    A = T_a_b[..., :3, :3]
    A_inv = np.linalg.inv(A)
    t_inv = -np.einsum('...ij,...j->...i', A_inv, T_a_b[..., :3, 3])
    out = np.zeros_like(T_a_b)
    out[..., :3, :3] = A_inv
    out[..., :3, 3] = t_inv
    out[..., 3, 3] = 1.0
    return out


def compose(T_a_b: np.ndarray, T_b_c: np.ndarray) -> np.ndarray:
    """T_a_c = T_a_b @ T_b_c for (..., 4, 4) stacks."""
    return np.asarray(T_a_b, dtype=np.float64) @ np.asarray(T_b_c, dtype=np.float64)


def transform_points(T_a_b: np.ndarray, pts_b: np.ndarray) -> np.ndarray:
    """Map points (..., 3) given in frame b into frame a with one (4, 4) transform."""
    T_a_b = np.asarray(T_a_b, dtype=np.float64)
    pts_b = np.asarray(pts_b, dtype=np.float64)
    return pts_b @ T_a_b[:3, :3].T + T_a_b[:3, 3]
