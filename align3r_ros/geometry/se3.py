"""Rigid transforms as 4x4 homogeneous matrices (batch-first).

``T_a_b`` maps points from frame b into frame a (``T_world_cam`` is camera-to-world).
"""

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
    """Inverse of rigid (or similarity) transforms (..., 4, 4): returns T_b_a, float64.

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


def relative_transform(T_w_a: np.ndarray, T_w_b: np.ndarray) -> np.ndarray:
    """T_a_b = inv(T_w_a) @ T_w_b for (..., 4, 4) rigid stacks (or poses whose translation
    alone is scaled), float64.

    The rotation block is inverted by transposition, so a pose whose 3x3 block is not a
    rotation is not supported.
    """
    T_w_a = np.asarray(T_w_a, dtype=np.float64)
    T_w_b = np.asarray(T_w_b, dtype=np.float64)
    R_a_w = np.swapaxes(T_w_a[..., :3, :3], -1, -2)
    out = np.zeros(np.broadcast_shapes(T_w_a.shape, T_w_b.shape))
    out[..., :3, :3] = R_a_w @ T_w_b[..., :3, :3]
    out[..., :3, 3] = np.einsum('...ij,...j->...i', R_a_w, T_w_b[..., :3, 3] - T_w_a[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def transform_points(T_a_b: np.ndarray, pts_b: np.ndarray) -> np.ndarray:
    """Points (..., 3) given in frame b, mapped into frame a by one (4, 4) transform, float64."""
    T_a_b = np.asarray(T_a_b, dtype=np.float64)
    return np.asarray(pts_b, dtype=np.float64) @ T_a_b[:3, :3].T + T_a_b[:3, 3]
