"""What the mapper fuses: one depth map with its intrinsics, pose and optional dynamic mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class MapFrame:
    """One frame to fuse.

    Attributes:
        stamp_ns: the depth image's stamp, integer nanoseconds.
        depth: (H, W) float32 depth along the optical axis in the map's units (metres when
            metric), NaN where invalid.
        K: (3, 3) float64 intrinsics at (H, W), pixels.
        T_world_cam: (4, 4) float64 camera-to-world pose of the depth's optical frame (REP 103
            axes: x right, y down, z forward).
        dynamic_mask: (H, W) bool, True on dynamic pixels, or None (no mask for this frame).
    """

    stamp_ns: int
    depth: np.ndarray
    K: np.ndarray
    T_world_cam: np.ndarray
    dynamic_mask: Optional[np.ndarray] = None

    def depth_to_fuse(self, apply_mask: bool) -> np.ndarray:
        """(H, W) float32 depth with NaN on dynamic pixels when ``apply_mask`` (a copy)."""
        depth = np.array(self.depth, dtype=np.float32, copy=True)
        if apply_mask and self.dynamic_mask is not None:
            depth[self.dynamic_mask] = np.nan
        return depth
