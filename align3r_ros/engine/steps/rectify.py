"""Undistortion of frames whose ``Frame.distortion_model`` / ``Frame.D`` say they are distorted.

The engine rectifies (``FramePreparer``), so the live node and the replay treat a distorted
camera alike; transports only copy the CameraInfo model onto the frame. plumb_bob and
rational_polynomial go through ``cv2.initUndistortRectifyMap``; equidistant (alias fisheye)
through ``cv2.fisheye.initUndistortRectifyMap``. The rectified camera keeps the input K (the maps
send each output pixel of the ideal pinhole K to its distorted source), zero distortion and the
same size, so downstream intrinsics stay what the calibration says. Everything registered to the
raw image is rectified alike: colours bilinear (black outside), depth priors, ground-truth depth
and dynamic masks nearest-neighbour (never blended across object edges; NaN / False outside).
All-zero coefficients need no maps: such frames pass through untouched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from align3r_ros.errors import InputError
from align3r_ros.streams.depth import depth_at_size
from align3r_ros.structures import Frame

PINHOLE_MODELS = ('plumb_bob', 'rational_polynomial')
FISHEYE_MODELS = ('equidistant', 'fisheye')
_PINHOLE_COEFFICIENTS = (4, 5, 8, 12, 14)


@dataclass(frozen=True)
class Rectifier:
    """Remap tables of one camera model at one size.

    Attributes:
        height, width: the image size the maps are for, pixels.
        map_x, map_y: (H, W) float32 source coordinates per output pixel, or None when the
            camera has no distortion (identity).
    """

    height: int
    width: int
    map_x: Optional[np.ndarray]
    map_y: Optional[np.ndarray]

    @property
    def is_identity(self) -> bool:
        return self.map_x is None

    def rectify_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> rectified (H, W, 3) uint8 (bilinear, black outside)."""
        return self._remap(rgb, linear=True)

    def rectify_depth(self, depth: np.ndarray) -> np.ndarray:
        """(H, W) float depth -> rectified (H, W) (nearest neighbour, NaN outside)."""
        return self._remap(np.asarray(depth, dtype=np.float32), linear=False)

    def rectify_mask(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) bool -> rectified (H, W) bool (nearest neighbour, False outside)."""
        return self._remap(np.asarray(mask, dtype=np.uint8), linear=False).astype(bool)

    def _remap(self, image: np.ndarray, linear: bool) -> np.ndarray:
        import cv2

        if tuple(image.shape[:2]) != (self.height, self.width):
            raise InputError(f'image is {image.shape[1]}x{image.shape[0]} but the camera '
                             f'model is {self.width}x{self.height}')
        if self.map_x is None:
            return image
        border = np.nan if image.dtype.kind == 'f' else 0
        return cv2.remap(image, self.map_x, self.map_y,
                         cv2.INTER_LINEAR if linear else cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def make_rectifier(K: np.ndarray, D: np.ndarray, distortion_model: str, height: int,
                   width: int) -> Rectifier:
    """Remap tables for a camera (K (3, 3) pixels and D of ``distortion_model``) at (H, W).

    Raises:
        InputError: an unknown distortion model or a wrong number of coefficients.
    """
    import cv2

    model = distortion_model.strip().lower()
    K = np.asarray(K, dtype=np.float64)
    D = np.asarray(D if D is not None else (), dtype=np.float64).reshape(-1)
    if model and model not in PINHOLE_MODELS + FISHEYE_MODELS:
        raise InputError(f'unknown distortion model {distortion_model!r}; supported: '
                         f'{", ".join(PINHOLE_MODELS + FISHEYE_MODELS)}')
    if not model or D.size == 0 or not np.any(D):
        return Rectifier(height, width, None, None)
    if not np.isfinite(D).all() or K.shape != (3, 3) or not np.isfinite(K).all():
        raise InputError(f'{model}: non-finite coefficients or K')
    size = (int(width), int(height))
    if model in FISHEYE_MODELS:
        if D.size < 4:
            raise InputError(f'{model} needs 4 coefficients, got {D.size}')
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(K, D[:4].reshape(4, 1), np.eye(3), K,
                                                           size, cv2.CV_32FC1)
    else:
        if D.size not in _PINHOLE_COEFFICIENTS:
            raise InputError(f'{model} with {D.size} coefficients (expected one of '
                             f'{_PINHOLE_COEFFICIENTS})')
        map_x, map_y = cv2.initUndistortRectifyMap(K, D, None, K, size, cv2.CV_32FC1)
    return Rectifier(height, width, map_x, map_y)


def is_distorted(frame: Frame) -> bool:
    """The frame names a distortion model and carries coefficients that are not all zero."""
    return bool(frame.distortion_model) and frame.D is not None and \
        bool(np.any(np.asarray(frame.D, dtype=np.float64)))


class FrameRectifier:
    """Rectifies whole frames, with remap tables cached per camera model and size (bounded).

    Args:
        max_models: cameras whose tables are kept (a stream of ever-changing calibrations
            never grows the cache).
    """

    def __init__(self, max_models: int = 4) -> None:
        self.max_models = max(int(max_models), 1)
        self._cache: Dict[Tuple[bytes, ...], Rectifier] = {}

    def rectifier(self, frame: Frame) -> Rectifier:
        """The tables of ``frame``'s camera (built once per model, coefficients, K and size).

        Raises:
            InputError: a distorted frame without K, an unknown model, bad coefficients.
        """
        if frame.K is None:
            raise InputError(f'frame {frame.stamp_ns}: distortion {frame.distortion_model!r} '
                             'given without K')
        height, width = frame.shape
        K = np.asarray(frame.K, dtype=np.float64)
        D = np.asarray(frame.D, dtype=np.float64).reshape(-1)
        key = (frame.distortion_model.encode(), K.tobytes(), D.tobytes(),
               np.array([height, width]).tobytes())
        if key not in self._cache:
            if len(self._cache) >= self.max_models:
                self._cache.clear()
            self._cache[key] = make_rectifier(K, D, frame.distortion_model, height, width)
        return self._cache[key]

    def rectify(self, frame: Frame) -> Frame:
        """``frame`` undistorted: colours, prior, ground-truth depth and dynamic mask rectified
        alike (a prior of another resolution is first brought to the image's, nearest); the
        returned frame has no distortion (``distortion_model`` '', ``D`` None) and the same K.
        A frame without distortion comes back unchanged.

        Raises:
            InputError: see :meth:`rectifier`.
        """
        if not is_distorted(frame):
            return frame
        rectifier = self.rectifier(frame)
        prior = frame.prior
        if prior is not None:
            prior = rectifier.rectify_depth(depth_at_size(np.asarray(prior, np.float32),
                                                          frame.shape))
        return dataclasses.replace(
            frame, rgb=rectifier.rectify_rgb(frame.rgb), prior=prior,
            gt_depth=None if frame.gt_depth is None else rectifier.rectify_depth(frame.gt_depth),
            gt_dynamic_mask=None if frame.gt_dynamic_mask is None else
            rectifier.rectify_mask(frame.gt_dynamic_mask),
            distortion_model='', D=None)
