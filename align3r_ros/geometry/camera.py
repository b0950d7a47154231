"""Pinhole cameras: the one K vocabulary (construction, default principal point, rescaling)
and unprojection.

Conventions, for every K in the package:

- ``K`` is (3, 3) float64 in pixels, for a stated (H, W); fx, fy focal lengths, (cx, cy) the
  principal point.
- Pixel centres are at integer coordinates: u = 0..W-1 (column), v = 0..H-1 (row).
- An unknown principal point is (W/2, H/2) — the convention of the official alignment (DUSt3R
  keeps pp fixed at W/2, H/2 in its estimated-intrinsics mode, spec §5.2). Not (W-1)/2: that
  would put a half-pixel bias between a "default" K and the one the alignment estimates.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(3, 3) float64 pinhole matrix from focal lengths and principal point, pixels."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)


def default_principal_point(height: int, width: int) -> tuple:
    """The principal point (cx, cy) = (W/2, H/2) assumed when it is unknown, pixels.

    The official alignment's convention (module docstring).
    """
    return (width / 2.0, height / 2.0)


def default_intrinsics(height: int, width: int, focal_px: float,
                       focal_y_px: Optional[float] = None) -> np.ndarray:
    """(3, 3) float64 K at (height, width) with the default principal point (W/2, H/2).

    Args:
        height, width: image size, pixels.
        focal_px: fx, pixels.
        focal_y_px: fy, pixels; None for fy = fx.
    """
    cx, cy = default_principal_point(height, width)
    fy = focal_px if focal_y_px is None else focal_y_px
    return intrinsics_matrix(focal_px, fy, cx, cy)


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
