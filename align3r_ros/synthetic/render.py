"""Vectorised ray casting of a :class:`~.scene.Scene` into RGB, depth and a dynamic mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from align3r_ros.geometry.camera import pixel_rays
from align3r_ros.synthetic.scene import Scene, texture_at

_EPS = 1e-6


@dataclass(frozen=True)
class RenderedView:
    """One rendered frame.

    Attributes:
        rgb: (H, W, 3) uint8.
        depth: (H, W) float32 metres along the optical axis (always valid: the room is closed).
        dynamic_mask: (H, W) bool, True where a moving sphere is the nearest surface.
    """

    rgb: np.ndarray
    depth: np.ndarray
    dynamic_mask: np.ndarray


def _room_hits(origin, dirs, lo, hi):
    """Exit distance of rays from inside the room and the (P,) axis of the wall hit."""
    with np.errstate(divide='ignore', invalid='ignore'):
        bound = np.where(dirs > 0, hi, lo)
        t_axes = (bound - origin) / dirs
    t_axes = np.where(np.abs(dirs) < _EPS, np.inf, t_axes)
    axis = np.argmin(t_axes, axis=1)
    return t_axes[np.arange(len(dirs)), axis], axis


def _box_hits(origin, dirs, lo, hi):
    """Entry distance of rays into a solid box (inf when missed)."""
    with np.errstate(divide='ignore', invalid='ignore'):
        t1 = (lo - origin) / dirs
        t2 = (hi - origin) / dirs
    t_near = np.nanmax(np.minimum(t1, t2), axis=1)
    t_far = np.nanmin(np.maximum(t1, t2), axis=1)
    hit = (t_far >= t_near) & (t_near > _EPS)
    return np.where(hit, t_near, np.inf)


def _sphere_hits(origin, dirs, centre, radius):
    """Nearest positive distance of rays to a sphere (inf when missed)."""
    offset = origin - centre
    a = np.einsum('pi,pi->p', dirs, dirs)
    b = dirs @ offset
    c = offset @ offset - radius * radius
    disc = b * b - a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    t = (-b - root) / a
    return np.where((disc > 0) & (t > _EPS), t, np.inf)


def render_view(scene: Scene, T_world_cam: np.ndarray, K: np.ndarray, height: int, width: int,
                frame_index: float) -> RenderedView:
    """Ray-cast one frame.

    Args:
        scene: what to draw.
        T_world_cam: (4, 4) camera-to-world pose; REP 103 optical axes.
        K: (3, 3) intrinsics at (height, width), pixels.
        height, width: image size.
        frame_index: time of the frame (positions of the movers).
    """
    rays_cam = pixel_rays(K, height, width).reshape(-1, 3)  # z = 1: ray parameter = depth
    dirs = rays_cam @ T_world_cam[:3, :3].T  # world directions, camera z component = 1
    origin = T_world_cam[:3, 3]
    t_best, wall_axis = _room_hits(origin, dirs, scene.room_lo, scene.room_hi)
    num = len(dirs)
    colour = np.empty((num, 3))
    wall_colour = np.array([[0.9, 0.6, 0.5], [0.6, 0.8, 0.9], [0.7, 0.9, 0.6]])
    colour[:] = wall_colour[wall_axis]
    moving = np.zeros(num, dtype=bool)
    for box in scene.boxes:
        t = _box_hits(origin, dirs, box.lo, box.hi)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        colour[closer] = box.colour
        moving[closer] = False
    for sphere in scene.spheres:
        t = _sphere_hits(origin, dirs, sphere.centre_at(frame_index), sphere.radius)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        colour[closer] = sphere.colour
        moving[closer] = sphere.is_moving
    points = origin + dirs * t_best[:, None]
    if np.any(moving):
        # movers carry their texture with them: texture their points in the object's rest frame
        for sphere in scene.spheres:
            if sphere.is_moving:
                shift = sphere.centre_at(frame_index) - sphere.centre
                on_it = moving & (np.linalg.norm(points - sphere.centre_at(frame_index), axis=1)
                                  <= sphere.radius * 1.001)
                points[on_it] -= shift
    shaded = texture_at(points, colour, scene.texture_seed)
    rgb = np.clip(shaded * 255.0 + 0.5, 0, 255).astype(np.uint8).reshape(height, width, 3)
    depth = t_best.astype(np.float32).reshape(height, width)  # z of a z=1 ray is t
    return RenderedView(rgb=rgb, depth=depth, dynamic_mask=moving.reshape(height, width))
