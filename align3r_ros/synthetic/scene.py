"""Scene description: a textured room, static boxes and spheres, and moving spheres.

World frame: metres, y pointing down (like the REP 103 optical frame of an upright camera), the
floor at ``y = room_hi[1]``. Objects are plain frozen dataclasses; :mod:`.render` ray-casts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass(frozen=True)
class Box:
    """Axis-aligned box (solid), seen from outside.

    Attributes:
        lo, hi: (3,) world corners, metres.
        colour: (3,) base RGB in [0, 1].
    """

    lo: np.ndarray
    hi: np.ndarray
    colour: np.ndarray


@dataclass(frozen=True)
class Sphere:
    """Sphere; a mover when ``swing`` and ``omega`` are non-zero.

    Its centre at frame k is ``centre + swing * sin(omega * k + phase)`` (a bounded
    oscillation, so long sequences stay inside the room).

    Attributes:
        centre: (3,) world centre at rest, metres.
        radius: metres.
        colour: (3,) base RGB in [0, 1].
        swing: (3,) oscillation amplitude, metres (zeros: static).
        omega: angular rate of the oscillation, radians per frame.
        phase: radians.
    """

    centre: np.ndarray
    radius: float
    colour: np.ndarray
    swing: np.ndarray
    omega: float = 0.0
    phase: float = 0.0

    @property
    def is_moving(self) -> bool:
        return bool(np.any(self.swing != 0.0)) and self.omega != 0.0

    def centre_at(self, k: float) -> np.ndarray:
        """(3,) world centre at frame index ``k``."""
        return self.centre + self.swing * np.sin(self.omega * k + self.phase)


@dataclass(frozen=True)
class Scene:
    """Everything the renderer draws.

    Attributes:
        room_lo, room_hi: (3,) inner corners of the room, metres.
        boxes: static boxes.
        spheres: static and moving spheres.
        texture_seed: seeds the procedural texture frequencies.
    """

    room_lo: np.ndarray
    room_hi: np.ndarray
    boxes: Tuple[Box, ...]
    spheres: Tuple[Sphere, ...]
    texture_seed: int


def make_scene(seed: int, num_movers: int = 1, num_static: int = 3) -> Scene:
    """A room with ``num_static`` static objects and ``num_movers`` oscillating spheres.

    The camera region (see :mod:`.camera_path`) is ``z < 1``; objects are placed at ``z >= 2`` so
    the camera never enters one.
    """
    rng = np.random.default_rng(seed)
    room_lo = np.array([-4.0, -2.5, -3.0])
    room_hi = np.array([4.0, 1.5, 7.0])
    boxes = []
    spheres = []
    for index in range(num_static):
        centre = np.array([rng.uniform(-2.5, 2.5), rng.uniform(-0.5, 0.8), rng.uniform(2.5, 5.5)])
        colour = rng.uniform(0.2, 1.0, size=3)
        if index % 2 == 0:
            half = rng.uniform(0.3, 0.7, size=3)
            half[1] = min(half[1], room_hi[1] - centre[1])  # rests on or above the floor
            boxes.append(Box(lo=centre - half, hi=centre + half, colour=colour))
        else:
            spheres.append(Sphere(centre=centre, radius=float(rng.uniform(0.3, 0.6)),
                                  colour=colour, swing=np.zeros(3)))
    for _ in range(num_movers):
        centre = np.array([rng.uniform(-1.5, 1.5), rng.uniform(-0.3, 0.5), rng.uniform(2.5, 4.0)])
        swing = np.array([rng.uniform(0.6, 1.2), rng.uniform(0.0, 0.2), rng.uniform(0.0, 0.4)])
        spheres.append(Sphere(centre=centre, radius=float(rng.uniform(0.5, 0.75)),
                              colour=rng.uniform(0.2, 1.0, size=3), swing=swing,
                              omega=float(rng.uniform(0.08, 0.15)),
                              phase=float(rng.uniform(0.0, 2 * np.pi))))
    return Scene(room_lo=room_lo, room_hi=room_hi, boxes=tuple(boxes), spheres=tuple(spheres),
                 texture_seed=int(rng.integers(0, 2**31 - 1)))


def texture_at(points: np.ndarray, base: np.ndarray, seed: int) -> np.ndarray:
    """Procedural colour of surface points.

    Args:
        points: (P, 3) world points, metres.
        base: (P, 3) base colour of the surface at each point, in [0, 1].
        seed: texture seed (frequencies and phases).

    Returns:
        (P, 3) float colour in [0, 1]: a checkerboard of 0.5 m cells modulated by sinusoids, so
        every surface has visible gradients at any resolution.
    """
    rng = np.random.default_rng(seed)
    freq = rng.uniform(3.0, 9.0, size=(3, 3))
    phase = rng.uniform(0.0, 2 * np.pi, size=3)
    checker = (np.floor(points * 2.0).astype(np.int64).sum(axis=1) % 2).astype(np.float64)
    waves = np.sin(points @ freq + phase)  # (P, 3), one wave per colour channel
    shade = 0.45 + 0.25 * checker[:, None] + 0.2 * waves
    return np.clip(base * shade + 0.05, 0.0, 1.0)
