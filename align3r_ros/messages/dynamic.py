"""The output pixel masks of one result: the dynamic mask as published, the confidence image.

One place decides which pixels the outputs call dynamic (:func:`output_dynamic_mask`: the
engine's ``FrameResult.dynamic_mask`` grown by ``output.dynamic_dilate_px``) and what the
confidence image holds (:func:`confidence_image`). The composition
(:mod:`align3r_ros.messages.compose`) publishes the mask and, with ``output.exclude_dynamic``,
removes the same pixels from the depth and the cloud (:func:`output_depth`).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from align3r_ros.config import OutputConfig
from align3r_ros.errors import ConversionError
from align3r_ros.structures import FrameResult

#: mono8 value of a dynamic pixel in ``~/dynamic_mask/image`` (static pixels are 0).
DYNAMIC_VALUE = 255


def grow_mask(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """(H, W) bool mask grown to every pixel within ``radius_px`` pixels (Euclidean distance
    between pixel centres) of a set one: a dilation by a disk (0: a copy, unchanged).

    Raises:
        ConversionError: a mask that is not 2-D or a negative radius.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or int(radius_px) < 0:
        raise ConversionError(f'dynamic mask must be (H, W) with a radius >= 0, got '
                              f'{mask.shape} and {radius_px}')
    radius = int(radius_px)
    if radius == 0 or not mask.any():
        return mask.copy()
    import cv2

    offsets = np.arange(-radius, radius + 1)
    kernel = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius ** 2).astype(np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def output_dynamic_mask(result: FrameResult, output: OutputConfig) -> np.ndarray:
    """(H, W) bool: the pixels the outputs treat as dynamic (published and, with
    ``exclude_dynamic``, removed): the engine's mask grown by ``dynamic_dilate_px``."""
    mask = np.asarray(result.dynamic_mask, dtype=bool)
    depth_shape = np.shape(result.depth)
    if mask.shape != depth_shape:
        raise ConversionError(f'dynamic mask {mask.shape} does not match depth {depth_shape}')
    return grow_mask(mask, output.dynamic_dilate_px)


def output_depth(result: FrameResult, output: OutputConfig,
                 dynamic: Optional[np.ndarray] = None) -> np.ndarray:
    """(H, W) float32 depth as published in ``~/depth/image`` and ``~/points``.

    NaN where invalid, where the confidence is below ``conf_threshold``
    (``FrameResult.masked_depth``) and, with ``exclude_dynamic``, where
    :func:`output_dynamic_mask` is set (``dynamic``: that mask, when the caller has it).
    """
    depth = result.masked_depth(output.conf_threshold)
    if output.exclude_dynamic:
        if dynamic is None:
            dynamic = output_dynamic_mask(result, output)
        depth = np.where(dynamic, np.float32(np.nan), depth).astype(np.float32, copy=False)
    return depth


def mask_to_mono8(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) uint8, :data:`DYNAMIC_VALUE` where set, 0 elsewhere."""
    return np.where(np.asarray(mask, dtype=bool), np.uint8(DYNAMIC_VALUE), np.uint8(0))


def confidence_image(result: FrameResult) -> np.ndarray:
    """(H, W) float32: the confidence ``output.conf_threshold`` is compared with, NaN where
    the result has none (confidence not finite or not positive: the engine's 0 = invalid)."""
    confidence = np.asarray(result.confidence, dtype=np.float32)
    if confidence.shape != np.shape(result.depth):
        raise ConversionError(f'confidence {confidence.shape} does not match depth '
                              f'{np.shape(result.depth)}')
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(confidence) & (confidence > 0)
    return np.where(valid, confidence, np.float32(np.nan)).astype(np.float32, copy=False)


def dynamic_fraction(result: FrameResult) -> float:
    """Share of the frame's pixels the engine marked dynamic, in [0, 1] (before any growing;
    NaN for an empty mask)."""
    mask = np.asarray(result.dynamic_mask, dtype=bool)
    return float(mask.mean()) if mask.size else float('nan')
