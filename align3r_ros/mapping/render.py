"""A PNG of a fused map, headless: matplotlib (Agg) and a numpy z-buffer, no OpenGL.

Open3D's offscreen renderer needs EGL or OSMesa, which a headless machine (CI, a container)
often lacks; this projection of the map's points works anywhere matplotlib does. Two panels:

* the map seen from behind the first camera (a perspective z-buffer splat of the points,
  shaded by their normals), the view a user recognises from the first image;
* the map from above (points projected along the cameras' mean up direction, coloured by
  height; points higher than the highest camera by 10 % of the extent, ceilings, are left
  out), with the camera trajectory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from align3r_ros.geometry.se3 import invert_transform, transform_points

_VIEW_SIZE = (360, 480)   # rows, columns of the camera-view panel, pixels


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def camera_view(points: np.ndarray, normals: np.ndarray, T_world_view: np.ndarray,
                size=_VIEW_SIZE) -> np.ndarray:
    """(rows, cols) float image in [0, 1] (NaN: nothing) of the points seen from a camera.

    Args:
        points, normals: (P, 3) world points and their normals.
        T_world_view: (4, 4) the virtual camera's pose (REP 103 optical axes).
        size: (rows, cols) of the image; the field of view is 90 degrees across.
    """
    rows, cols = size
    focal = cols / 2.0
    cam = transform_points(invert_transform(T_world_view), points)
    front = cam[:, 2] > 1e-6
    cam, nrm = cam[front], normals[front] @ T_world_view[:3, :3]
    u = np.round(focal * cam[:, 0] / cam[:, 2] + cols / 2.0).astype(np.int64)
    v = np.round(focal * cam[:, 1] / cam[:, 2] + rows / 2.0).astype(np.int64)
    shade = 0.25 + 0.75 * np.abs(np.einsum('pi,pi->p', nrm, -cam / np.linalg.norm(
        cam, axis=1, keepdims=True)))
    image = np.full((rows, cols), np.nan)
    zbuf = np.full((rows, cols), np.inf)
    order = np.argsort(-cam[:, 2])  # far first: nearer points overwrite
    for du in (0, 1):   # 2x2 splats close the gaps between projected points
        for dv in (0, 1):
            uu, vv = u[order] + du, v[order] + dv
            inside = (uu >= 0) & (uu < cols) & (vv >= 0) & (vv < rows)
            uu, vv, z, s = uu[inside], vv[inside], cam[order, 2][inside], shade[order][inside]
            nearer = z < zbuf[vv, uu]
            zbuf[vv[nearer], uu[nearer]] = z[nearer]
            image[vv[nearer], uu[nearer]] = s[nearer]
    return image


def render_map_png(path: Path, points: np.ndarray, normals: np.ndarray,
                   T_world_cam: np.ndarray, title: str) -> None:
    """Write the two-panel PNG (see the module docstring).

    Args:
        path: the PNG file to write.
        points, normals: (P, 3) the map's surface points and normals, world frame.
        T_world_cam: (N, 4, 4) the fused frames' camera poses (N >= 1).
        title: one line above the panels.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    centres = T_world_cam[:, :3, 3]
    up = _unit(-T_world_cam[:, :3, 1].mean(axis=0))       # optical y points down
    forward = T_world_cam[:, :3, 2].mean(axis=0)
    forward = _unit(forward - up * (forward @ up))
    right = np.cross(forward, up)
    lo, hi = np.percentile(points, [1.0, 99.0], axis=0) if len(points) else (0.0, 1.0)
    extent = float(np.linalg.norm(np.asarray(hi) - lo))
    view = np.array(T_world_cam[0], dtype=np.float64)
    view[:3, 3] -= view[:3, 2] * 0.05 * extent            # step back behind the first camera
    fig, (ax_view, ax_top) = plt.subplots(1, 2, figsize=(12, 4.8))
    ax_view.imshow(camera_view(points, normals, view), cmap='gray', vmin=0, vmax=1)
    ax_view.set_title('from behind the first camera')
    ax_view.axis('off')
    height = points @ up
    below = height <= (centres @ up).max() + 0.1 * extent   # ceilings would hide the rest
    order = np.argsort(height[below])
    shown = points[below][order]
    ax_top.scatter(shown @ right, shown @ forward, c=height[below][order], s=0.5,
                   cmap='viridis', linewidths=0)
    ax_top.plot(centres @ right, centres @ forward, 'r-', lw=1.5, label='camera')
    ax_top.plot(centres[:1] @ right, centres[:1] @ forward, 'ro', ms=4)
    ax_top.set_aspect('equal')
    ax_top.set_title('from above, below the ceiling (colour: height)')
    ax_top.legend(loc='upper right', fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
