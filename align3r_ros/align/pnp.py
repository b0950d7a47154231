"""Camera pose from world points by RANSAC-PnP (OpenCV SQPnP), as the reference MST init."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from align3r_ros.geometry.se3 import invert_transform, make_transform


def pnp_camera_pose(pts_world: np.ndarray, mask: np.ndarray, focals: Sequence[float],
                    principal_point: tuple, iterations: int = 10,
                    fy_over_fx: float = 1.0) -> Optional[tuple]:
    """Camera-to-world pose of a frame whose world points are known per pixel.

    Args:
        pts_world: (h, w, 3) world points of the frame's pixels.
        mask: (h, w) bool, pixels to use.
        focals: candidate focal lengths (fx); the one with most RANSAC inliers wins.
        principal_point: (cx, cy).
        iterations: RANSAC iterations (reference: 10); reprojection error 5 px.
        fy_over_fx: aspect ratio (1 in the reference).

    Returns:
        (focal, T_world_cam (4, 4) float64), or None when fewer than 4 pixels or no solution.
    """
    import cv2  # local: OpenCV is only needed by the initialisation

    if int(mask.sum()) < 4:
        return None
    h, w = mask.shape
    pixels = np.mgrid[:w, :h].T.astype(np.float32)
    obj = np.ascontiguousarray(np.asarray(pts_world, dtype=np.float32)[mask])
    img = np.ascontiguousarray(pixels[mask])
    best = None
    for focal in focals:
        K = np.float32([(focal, 0, principal_point[0]),
                        (0, focal * fy_over_fx, principal_point[1]), (0, 0, 1)])
        try:
            ok, rvec, tvec, inliers = cv2.solvePnPRansac(
                obj, img, K, None, iterationsCount=iterations, reprojectionError=5,
                flags=cv2.SOLVEPNP_SQPNP)
        except cv2.error:
            continue
        if not ok or inliers is None:
            continue
        if best is None or len(inliers) > best[0]:
            best = (len(inliers), rvec, tvec, focal)
    if best is None:
        return None
    _, rvec, tvec, focal = best
    R_cam_world = cv2.Rodrigues(rvec)[0]
    T_cam_world = make_transform(R_cam_world, np.asarray(tvec, dtype=np.float64).ravel())
    T_world_cam = invert_transform(T_cam_world)
    if not np.isfinite(T_world_cam).all():
        return None
    return float(focal), T_world_cam
