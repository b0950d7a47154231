"""Unit quaternions in xyzw order (the package convention, as ROS, roma and scipy use), and the
projection of a drifted rotation back onto SO(3)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from align3r_ros.errors import InputError

#: A quaternion shorter than this has no direction.
_MIN_QUATERNION_NORM = 1e-12


def quaternion_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions.

    Args:
        q_xyzw: (..., 4) quaternions x, y, z, w; need not be normalised (normalised here).

    Returns:
        (..., 3, 3) float64 rotation matrices.

    Raises:
        InputError: a quaternion is non-finite or (near) zero.
    """
    q = np.asarray(q_xyzw, dtype=np.float64)
    flat = q.reshape(-1, 4)
    norms = np.linalg.norm(flat, axis=1)
    bad = ~(np.isfinite(norms) & (norms >= _MIN_QUATERNION_NORM))
    if bad.any():
        raise InputError(f'quaternion {flat[bad][0].tolist()} has no direction')
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


def orthonormalise_rotation(R: np.ndarray) -> np.ndarray:
    """The nearest rotation (SVD projection, U Vᵀ) of matrices that drifted off SO(3).

    Args:
        R: (..., 3, 3) near-rotations (e.g. an aligned pose's 3x3 block).

    Returns:
        (..., 3, 3) float64 orthonormal matrices.

    Raises:
        InputError: a matrix is non-finite or its projection is a reflection (det < 0).
    """
    R = np.asarray(R, dtype=np.float64)
    if not np.all(np.isfinite(R)):
        raise InputError('rotation has non-finite entries')
    U, _, Vt = np.linalg.svd(R)
    R_ortho = U @ Vt
    if np.any(np.linalg.det(R_ortho) < 0):
        raise InputError('rotation has a negative determinant (a reflection)')
    return R_ortho
