"""Official Depth Anything V2 preprocessing (``image2tensor``), NumPy + OpenCV.

RGB uint8 -> float64 / 255 -> keep-aspect resize so that the *short* side reaches at least
``input_size`` with both sides multiples of 14 (OpenCV INTER_CUBIC on the float64 image) ->
ImageNet mean/std -> (1, 3, h, w) float32. The reference reads BGR with ``cv2.imread`` and
converts to RGB first; callers here already hold RGB.
"""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _constrain_to_multiple(x: float, multiple: int, min_val: int) -> int:
    # np.round rounds half to even, exactly like the reference's Resize.constrain_to_multiple_of.
    y = int(np.round(x / multiple) * multiple)
    if y < min_val:
        y = int(np.ceil(x / multiple) * multiple)
    return y


def network_input_size(height: int, width: int, input_size: int = 518,
                       multiple: int = 14) -> Tuple[int, int]:
    """(h, w) the network sees for an image of (height, width).

    'lower_bound' rule with kept aspect: one scale s = max(input_size / height,
    input_size / width) for both sides, each side rounded to a multiple of ``multiple`` and
    raised (ceil) when it falls below ``input_size``. E.g. 480x640 at 518 -> 518x686.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f'empty image {height}x{width}')
    scale = max(input_size / height, input_size / width)
    return (_constrain_to_multiple(scale * height, multiple, input_size),
            _constrain_to_multiple(scale * width, multiple, input_size))


def rgb_to_network_input(rgb: np.ndarray, input_size: int = 518,
                         multiple: int = 14) -> np.ndarray:
    """Preprocess one image.

    Args:
        rgb: (H, W, 3) uint8 RGB.
        input_size: lower bound of both network sides (official 518).
        multiple: the ViT patch size.

    Returns:
        (1, 3, h, w) float32, ImageNet-normalised, (h, w) = :func:`network_input_size`.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}')
    height, width = rgb.shape[:2]
    net_h, net_w = network_input_size(height, width, input_size, multiple)
    image = rgb.astype(np.float64) / 255.0
    image = cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_CUBIC)
    image = (image - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    return np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32)[None]
