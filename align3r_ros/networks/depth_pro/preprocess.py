"""Depth Pro input transform (official ``transform``: ToTensor, Normalize(0.5, 0.5)).

Frames are converted like the official ``load_rgb``: grayscale is stacked to three channels and
an alpha channel is dropped.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from align3r_ros.errors import InputError

#: Largest accepted frame (pixels): 8192 x 8192. The network sees 1536 x 1536 whatever the
#: input, but the float copy of the frame and the full-resolution depth output scale with it.
MAX_INPUT_PIXELS = 8192 * 8192


def rgb_to_three_channels(rgb: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3) uint8 RGB.

    Raises:
        InputError: not a uint8 array of one of those shapes, empty, or larger than
            MAX_INPUT_PIXELS.
    """
    if not isinstance(rgb, np.ndarray):
        raise InputError(f'expected an (H, W, 3) uint8 numpy array, got {type(rgb).__name__}')
    if rgb.dtype != np.uint8:
        raise InputError(f'expected uint8 RGB, got dtype {rgb.dtype}')
    if rgb.ndim == 2:
        rgb = rgb[:, :, None]
    if rgb.ndim != 3 or rgb.shape[2] not in (1, 3, 4):
        raise InputError(f'expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got '
                         f'shape {rgb.shape}')
    height, width = rgb.shape[:2]
    if height < 1 or width < 1:
        raise InputError(f'empty image of shape {rgb.shape}')
    if height * width > MAX_INPUT_PIXELS:
        raise InputError(f'image {width}x{height} exceeds {MAX_INPUT_PIXELS} pixels; '
                         'downscale it before Depth Pro')
    if rgb.shape[2] == 1:
        return np.repeat(rgb, 3, axis=2)
    return rgb[:, :, :3]


def preprocess_rgb(rgb: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 ``(u8 / 255 - 0.5) / 0.5`` in [-1, 1].

    Grayscale and RGBA frames are converted first (see ``rgb_to_three_channels``).
    """
    rgb = np.ascontiguousarray(rgb_to_three_channels(rgb))
    image = torch.from_numpy(rgb).permute(2, 0, 1).contiguous().to(torch.float32).div(255)
    return (image - 0.5) / 0.5
