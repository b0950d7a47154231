"""External prior: depth supplied by the caller (RGB-D stream, a ROS topic, files).

Accepted depth: (H', W') or (H', W', 1), float (metres, or the declared kind's units) or uint16
millimetres, registered to the colour frame (same field of view) at any resolution. Invalid
pixels (0, negative, NaN, inf) are filled with the nearest valid value (Euclidean distance
transform) so the point-map min-max normalisation stays finite; :attr:`PriorMap.valid` keeps
them marked. The map is then resized to the frame's (H, W): ``nearest`` (default; never blends
across depth edges, so no flying pixels) or ``linear``.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np
from scipy import ndimage

from align3r_ros.config import PriorKind
from align3r_ros.errors import ConfigError, InputError
from align3r_ros.structures import PriorMap

#: uint16 depth images are millimetres (REP 118 16UC1).
MILLIMETRES_TO_METRES = 1e-3
#: Relative aspect-ratio difference above which depth cannot be registered to the frame.
MAX_ASPECT_MISMATCH = 0.1
INTERPOLATIONS = ('nearest', 'linear')


def depth_to_metres(depth: np.ndarray) -> np.ndarray:
    """(H', W'[, 1]) uint16 mm or float -> (H', W') float32 (uint16 scaled to metres).

    Raises:
        InputError: wrong shape or dtype.
    """
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2 or min(depth.shape) < 1:
        raise InputError(f'external depth must be (H, W) or (H, W, 1), got shape {depth.shape}')
    if depth.dtype == np.uint16:
        return depth.astype(np.float32) * np.float32(MILLIMETRES_TO_METRES)
    if not np.issubdtype(depth.dtype, np.floating):
        raise InputError(f'external depth must be float metres or uint16 millimetres, '
                         f'got dtype {depth.dtype}')
    return depth.astype(np.float32)


def fill_invalid(values: np.ndarray) -> tuple:
    """Replace invalid pixels (<= 0, NaN, inf) by the nearest valid one.

    Returns:
        (filled (H, W) float32, valid (H, W) bool).

    Raises:
        InputError: no valid pixel at all.
    """
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(values) & (values > 0)
    if not valid.any():
        raise InputError(f'external depth {values.shape[0]}x{values.shape[1]} has no valid '
                         'pixel (all 0, NaN or inf)')
    if valid.all():
        return values, valid
    nearest = ndimage.distance_transform_edt(~valid, return_distances=False,
                                             return_indices=True)
    return values[nearest[0], nearest[1]].astype(np.float32), valid


def external_depth_to_prior(depth: np.ndarray, frame_hw: tuple,
                            kind: PriorKind = PriorKind.METRIC_DEPTH,
                            interpolation: str = 'nearest') -> PriorMap:
    """Turn caller-supplied depth into a finite prior at the frame's resolution.

    Args:
        depth: (H', W') float (metres for METRIC_DEPTH) or uint16 millimetres, registered to
            the colour frame; 0 / NaN / inf mark invalid pixels.
        frame_hw: (H, W) of the colour frame.
        kind: what the values are (METRIC_DEPTH, RELATIVE_DEPTH or DISPARITY).
        interpolation: 'nearest' or 'linear' resizing to (H, W).

    Returns:
        PriorMap with finite positive values (H, W) float32 and the valid mask (H, W) bool.

    Raises:
        InputError: bad shape/dtype, no valid pixel, or an aspect ratio that differs from the
            frame's by more than 10 % (the depth cannot be registered to it).
    """
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f'unknown external depth interpolation {interpolation!r}; expected '
                          f'one of {INTERPOLATIONS}')
    height, width = int(frame_hw[0]), int(frame_hw[1])
    if height < 1 or width < 1:
        raise InputError(f'empty frame size {frame_hw}')
    values, valid = fill_invalid(depth_to_metres(depth))
    src_h, src_w = values.shape
    mismatch = abs((src_w / src_h) / (width / height) - 1.0)
    if mismatch > MAX_ASPECT_MISMATCH:
        raise InputError(f'external depth {src_h}x{src_w} does not have the aspect of the '
                         f'{height}x{width} frame; register it to the colour camera first')
    if (src_h, src_w) != (height, width):
        mode = cv2.INTER_NEAREST if interpolation == 'nearest' else cv2.INTER_LINEAR
        values = cv2.resize(values, (width, height), interpolation=mode)
        valid = cv2.resize(valid.astype(np.uint8), (width, height),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
    return PriorMap(values=np.ascontiguousarray(values, dtype=np.float32), kind=kind,
                    focal_px=None, valid=valid)


class ExternalPriorBackend:
    """Prior backend whose depth comes with the frame (``Frame.prior``) instead of a network.

    Args:
        kind: what the supplied maps hold (``prior.kind``).
        interpolation: 'nearest' or 'linear'.
    """

    def __init__(self, kind: PriorKind = PriorKind.METRIC_DEPTH,
                 interpolation: str = 'nearest') -> None:
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f'unknown external depth interpolation {interpolation!r}')
        self.kind = PriorKind(kind)
        self.interpolation = interpolation

    def estimate(self, rgb: np.ndarray, K: Optional[np.ndarray] = None,
                 depth: Optional[np.ndarray] = None) -> PriorMap:
        """Prior at ``rgb``'s (H, W) from ``depth`` (see :func:`external_depth_to_prior`).

        Raises:
            InputError: ``depth`` is None (the frame carried no external depth) or unusable.
        """
        if depth is None:
            raise InputError('prior.backend is external but the frame carries no depth '
                             '(Frame.prior is None)')
        return external_depth_to_prior(depth, tuple(np.shape(rgb)[:2]), self.kind,
                                       self.interpolation)
