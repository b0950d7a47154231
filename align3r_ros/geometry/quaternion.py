"""Unit quaternions in xyzw order (the package convention, as roma and scipy use)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def quaternion_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions.

    Args:
        q_xyzw: (..., 4) quaternions x, y, z, w; need not be normalised (normalised here).

    Returns:
        (..., 3, 3) float64 rotation matrices.
    """
    q = np.asarray(q_xyzw, dtype=np.float64)
    flat = q.reshape(-1, 4)
    mats = Rotation.from_quat(flat).as_matrix()
    return mats.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Quaternions of rotation matrices, xyzw with w >= 0.

    Args:
        R: (..., 3, 3) rotation matrices.

    Returns:
        (..., 4) float64 unit quaternions.
    """
    R = np.asarray(R, dtype=np.float64)
    flat = R.reshape(-1, 3, 3)
    q = Rotation.from_matrix(flat).as_quat()
    q = np.where(q[:, 3:4] < 0, -q, q)
    return q.reshape(R.shape[:-2] + (4,))
