"""What alignment returns, and how anchors are given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class AlignmentResult:
    """A globally aligned problem.

    Attributes:
        T_world_cam: (N, 4, 4) float64 camera-to-world poses.
        depth: (N, h, w) float32 depth along the optical axis (world units).
        K: (N, 3, 3) float64 intrinsics at the network resolution (h, w).
        confidence: (N, h, w) float32 max over edges of the frame's confidence (the reference
            ``im_conf`` before its log), 0 where every prediction was invalid.
        pw_scale: (E,) float64 pairwise scales (pinned geometric mean 0.5 unless anchors fix
            the scale).
        T_world_pair: (E, 4, 4) float64 pairwise similarities camera-i -> world, with the scale
            folded into rotation and translation (the reference ``get_pw_poses``).
        loss: final objective value.
        iterations: solver iterations run.
        seconds: wall time of the solve (initialisation included).
        device: torch device the solver ran on ('cpu', 'cuda:0'); the arrays are host copies.
    """

    T_world_cam: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    confidence: np.ndarray
    pw_scale: np.ndarray
    T_world_pair: np.ndarray
    loss: float
    iterations: int
    seconds: float
    device: str = 'cpu'


@dataclass(frozen=True)
class FrameAnchor:
    """A frame held fixed during alignment.

    Attributes:
        index: frame index in the problem.
        T_world_cam: (4, 4) camera-to-world, kept exactly.
        depth: (h, w) depth kept exactly when given (it then fixes the global scale), else the
            frame's depth stays free.
    """

    index: int
    T_world_cam: np.ndarray
    depth: Optional[np.ndarray] = None
