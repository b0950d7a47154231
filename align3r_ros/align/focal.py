"""Focal length from a camera-frame point map: the reference's Weiszfeld reprojection fit."""

from __future__ import annotations

import numpy as np


def estimate_focal(pts_cam: np.ndarray, shape: tuple, principal_point: tuple,
                   iterations: int = 10) -> float:
    """Focal f minimising Σ_p ‖(u, v) − pp − f·(x/z, y/z)‖ (10 IRLS/Weiszfeld steps).

    Starts from the least-squares solution; no clipping (the reference calls it without
    bounds). Pixels with z = 0 contribute (x/z, y/z) = 0, as the reference's ``nan_to_num``.

    Args:
        pts_cam: (P, 3) points in the camera frame, row-major over ``shape``.
        shape: (h, w).
        principal_point: (cx, cy) pixels.

    Returns:
        The focal length in pixels.
    """
    h, w = shape
    v, u = np.mgrid[:h, :w]
    pixels = np.stack([u.ravel() - principal_point[0], v.ravel() - principal_point[1]], -1)
    pts = np.asarray(pts_cam, dtype=np.float64).reshape(-1, 3)
    with np.errstate(divide='ignore', invalid='ignore'):
        xy_over_z = pts[:, :2] / pts[:, 2:3]
    xy_over_z = np.nan_to_num(xy_over_z, nan=0.0, posinf=0.0, neginf=0.0)
    dot_xy_px = (xy_over_z * pixels).sum(-1)
    dot_xy_xy = (xy_over_z ** 2).sum(-1)
    focal = dot_xy_px.mean() / dot_xy_xy.mean()
    for _ in range(iterations):
        dist = np.linalg.norm(pixels - focal * xy_over_z, axis=-1)
        weight = 1.0 / np.clip(dist, 1e-8, None)
        focal = (weight * dot_xy_px).mean() / (weight * dot_xy_xy).mean()
    return float(focal)
