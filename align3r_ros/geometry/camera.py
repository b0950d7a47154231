"""Pinhole camera helpers: pixel grids, unprojection, intrinsics rescaling.

Pixel centres are at integer coordinates (u = 0..w-1, v = 0..h-1), as the alignment uses.
"""

from __future__ import annotations

import numpy as np


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(3, 3) float64 pinhole matrix."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float64 pixel coordinates (u, v) = (column, row)."""
    v, u = np.mgrid[:h, :w]
    return np.stack([u, v], axis=-1).astype(np.float64)


def unproject_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points of a depth map.

    Args:
        depth: (..., h, w) depth along the optical axis (z).
        K: (3, 3) or (..., 3, 3) intrinsics at (h, w).

    Returns:
        (..., h, w, 3) float64 points in the camera frame.
    """
    depth = np.asarray(depth, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    h, w = depth.shape[-2:]
    grid = pixel_grid(h, w)
    fx = K[..., 0, 0][..., None, None]
    fy = K[..., 1, 1][..., None, None]
    cx = K[..., 0, 2][..., None, None]
    cy = K[..., 1, 2][..., None, None]
    x = (grid[..., 0] - cx) / fx * depth
    y = (grid[..., 1] - cy) / fy * depth
    return np.stack([x, y, depth], axis=-1)


def scale_intrinsics(K: np.ndarray, from_hw: tuple, to_hw: tuple) -> np.ndarray:
    """Rescale intrinsics between image sizes (pure resize, pixel centres at integers).

    With pixel centres at integer coordinates, a resize by (sx, sy) maps u to
    (u + 0.5)·sx − 0.5.

    Args:
        K: (..., 3, 3) intrinsics at ``from_hw`` = (H, W).
        from_hw, to_hw: (H, W) before and after the resize.

    Returns:
        (..., 3, 3) float64 intrinsics at ``to_hw``.
    """
    K = np.array(K, dtype=np.float64)
    sy = to_hw[0] / from_hw[0]
    sx = to_hw[1] / from_hw[1]
    out = K.copy()
    out[..., 0, 0] = K[..., 0, 0] * sx
    out[..., 1, 1] = K[..., 1, 1] * sy
    out[..., 0, 2] = (K[..., 0, 2] + 0.5) * sx - 0.5
    out[..., 1, 2] = (K[..., 1, 2] + 0.5) * sy - 0.5
    return out
