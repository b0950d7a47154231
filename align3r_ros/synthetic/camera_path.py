"""Smooth camera trajectories: sinusoidal positions and a slowly moving look-at target."""

from __future__ import annotations

import numpy as np


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world pose looking from ``position`` at ``target``.

    Args:
        position: (3,) camera centre in the world, metres.
        target: (3,) point the optical axis (+z) passes through.

    Returns:
        (4, 4) float64 ``T_world_cam`` with REP 103 optical axes (x right, y down, z forward),
        world y pointing down, so an upright camera has its y axis close to world +y.
    """
    z_axis = target - position
    z_axis = z_axis / np.linalg.norm(z_axis)
    down = np.array([0.0, 1.0, 0.0])
    x_axis = np.cross(down, z_axis)
    x_axis = x_axis / np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    T_world_cam = np.eye(4)
    T_world_cam[:3, 0] = x_axis
    T_world_cam[:3, 1] = y_axis
    T_world_cam[:3, 2] = z_axis
    T_world_cam[:3, 3] = position
    return T_world_cam


def camera_pose_at(k: float, seed: int, speed: float = 1.0) -> np.ndarray:
    """(4, 4) ``T_world_cam`` of frame index ``k`` on a bounded, smooth path.

    The centre oscillates inside ``x in [-1.2, 1.2], y in [-0.6, 0.2], z in [-1.5, 0.5]``
    (steps of about 5 cm per frame at ``speed`` 1) and looks at a target that drifts across
    the far half of the room, so sequences of any length keep a parallax-rich view.

    Args:
        k: frame index (any float).
        seed: selects phases and rates.
        speed: multiplies every rate (0 gives a static camera).
    """
    rng = np.random.default_rng([seed, 7])
    phase = rng.uniform(0.0, 2 * np.pi, size=5)
    rate = rng.uniform(0.7, 1.3, size=5) * speed
    position = np.array([
        1.2 * np.sin(0.045 * rate[0] * k + phase[0]),
        -0.2 + 0.4 * np.sin(0.031 * rate[1] * k + phase[1]),
        -0.5 + 1.0 * np.sin(0.027 * rate[2] * k + phase[2]),
    ])
    target = np.array([
        1.5 * np.sin(0.019 * rate[3] * k + phase[3]),
        0.1 + 0.3 * np.sin(0.023 * rate[4] * k + phase[4]),
        4.5,
    ])
    return look_at(position, target)
