"""A depth image at its colour image's size (the bag's ground truth and prior, the engine's
rectification of a prior)."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def depth_at_size(depth: Optional[np.ndarray], hw: Tuple[int, int]) -> Optional[np.ndarray]:
    """Depth registered to an image, at the image's (H, W), by nearest neighbour (no mixing
    across depth edges); None stays None.

    Args:
        depth: (h, w) depth in metres (float; NaN or 0 where unknown), or None.
        hw: the image's (H, W).

    Returns:
        (H, W) depth of the same dtype (the input itself when it has that size already).
    """
    if depth is None or depth.shape == tuple(hw):
        return depth
    import cv2
    return cv2.resize(depth, (hw[1], hw[0]), interpolation=cv2.INTER_NEAREST)
