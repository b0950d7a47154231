"""Pinhole cameras: the one K vocabulary (construction, default principal point) and
unprojection (depth + K -> camera-frame points, pixel rays).

Conventions, for every K in the package:

- ``K`` is (3, 3) float64 in pixels, for a stated (H, W); fx, fy focal lengths, (cx, cy) the
  principal point.
- Pixel centres are at integer coordinates: u = 0..W-1 (column), v = 0..H-1 (row).
- An unknown principal point is (W/2, H/2) — the convention of the official alignment (DUSt3R
  keeps pp fixed at W/2, H/2 in its estimated-intrinsics mode, spec §5.2). Not (W-1)/2: that
  would put a half-pixel bias between a "default" K and the one the alignment estimates.
"""

from __future__ import annotations

from typing import Optional, Tuple

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


def image_plane_coordinates(K: np.ndarray, height: int, width: int, stride: int = 1,
                            dtype=np.float64) -> Tuple[np.ndarray, np.ndarray]:
    """Normalised image-plane coordinates of the pixel centres, separable per axis.

    ``x/z = (u - cx) / fx`` for u = 0, stride, 2·stride, ... < width, and ``y/z = (v - cy) / fy``
    likewise, computed in ``dtype``. A ray through pixel (v, u) is ``(x[u], y[v], 1)``.

    Args:
        K: (3, 3) or (..., 3, 3) intrinsics at (height, width).
        height, width: image size, pixels.
        stride: keep every stride-th pixel (grid ``[::stride, ::stride]``).
        dtype: float64, or float32 for a cheap message path.

    Returns:
        ``x_over_z`` (..., w') and ``y_over_z`` (..., h') in ``dtype``.
    """
    K = np.asarray(K, dtype=np.float64)
    cx = np.asarray(K[..., 0, 2], dtype=dtype)[..., None]
    cy = np.asarray(K[..., 1, 2], dtype=dtype)[..., None]
    fx = np.asarray(K[..., 0, 0], dtype=dtype)[..., None]
    fy = np.asarray(K[..., 1, 1], dtype=dtype)[..., None]
    x_over_z = (np.arange(0, width, stride, dtype=dtype) - cx) / fx
    y_over_z = (np.arange(0, height, stride, dtype=dtype) - cy) / fy
    return x_over_z, y_over_z


def pixel_rays(K: np.ndarray, height: int, width: int) -> np.ndarray:
    """(..., height, width, 3) float64 camera-frame ray directions with z = 1 (so the ray
    parameter is the depth), one per pixel centre.

    Args:
        K: (3, 3) or (..., 3, 3) intrinsics at (height, width).
    """
    x_over_z, y_over_z = image_plane_coordinates(K, height, width)
    shape = x_over_z.shape[:-1] + (height, width)
    x = np.broadcast_to(x_over_z[..., None, :], shape)
    y = np.broadcast_to(y_over_z[..., :, None], shape)
    return np.stack([x, y, np.ones(shape)], axis=-1)


def unproject_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points of a depth map: ``X = (u - cx) / fx · z``, ``Y = (v - cy) / fy · z``.

    Args:
        depth: (..., h, w) depth along the optical axis (z).
        K: (3, 3) or (..., 3, 3) intrinsics at (h, w).

    Returns:
        (..., h, w, 3) float64 points in the camera frame.
    """
    depth = np.asarray(depth, dtype=np.float64)
    h, w = depth.shape[-2:]
    x_over_z, y_over_z = image_plane_coordinates(K, h, w)
    x = x_over_z[..., None, :] * depth
    y = y_over_z[..., :, None] * depth
    return np.stack([x, y, depth], axis=-1)
