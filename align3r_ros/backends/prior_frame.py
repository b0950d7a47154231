"""Frame sanitising shared by the prior backends: colour layout, size limits, back-resizing.

Every prior backend accepts what a camera driver may publish — grayscale (H, W) or (H, W, 1),
RGB, RGBA, uint8 or uint16 — and turns it into (H, W, 3) uint8 RGB. Frames larger than 4K UHD
are downscaled (INTER_AREA) before the network, whose input is ~518 px (Depth Anything V2) or
1536 px (Depth Pro) anyway, and the prior is resized back to the frame's resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from align3r_ros.errors import BackendError, InputError

#: Long side above which a frame is downscaled before a prior network (4K UHD width).
MAX_NETWORK_SIDE = 3840
#: Frames with a side below this are rejected (no usable structure for a depth network).
MIN_SIDE = 8


@dataclass(frozen=True)
class NetworkFrame:
    """A frame ready for a prior network.

    Attributes:
        rgb: (h, w, 3) uint8 RGB, contiguous; (h, w) = frame size times ``scale``.
        frame_hw: (H, W) of the original frame; the prior is returned at this size.
        scale: h / H (1.0 unless the frame exceeded :data:`MAX_NETWORK_SIDE`).
    """

    rgb: np.ndarray
    frame_hw: tuple
    scale: float


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8/uint16 -> (H, W, 3) uint8 RGB.

    Grayscale is replicated, alpha dropped, uint16 reduced to its high byte.

    Raises:
        InputError: other shapes or dtypes, or a frame with a side below :data:`MIN_SIDE`.
    """
    if not isinstance(image, np.ndarray):
        raise InputError(f'prior input must be a numpy array, got {type(image).__name__}')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f'prior input must be (H, W), (H, W, 3) or (H, W, 4), '
                         f'got shape {image.shape}')
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InputError(f'prior input must be uint8 or uint16, got dtype {image.dtype}')
    if min(image.shape[:2]) < MIN_SIDE:
        raise InputError(f'frame {image.shape[0]}x{image.shape[1]} is too small for a depth '
                         f'prior (minimum side {MIN_SIDE} px)')
    return np.ascontiguousarray(image)


def prepare_frame(image: np.ndarray, max_side: int = MAX_NETWORK_SIDE) -> NetworkFrame:
    """Convert to RGB uint8 and downscale (INTER_AREA) when the long side exceeds ``max_side``."""
    rgb = to_rgb_uint8(image)
    height, width = rgb.shape[:2]
    scale = 1.0
    if max(height, width) > max_side:
        scale = max_side / max(height, width)
        size = (max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        scale = rgb.shape[0] / height
    return NetworkFrame(rgb=rgb, frame_hw=(height, width), scale=scale)


def resize_prior(values: np.ndarray, frame_hw: tuple) -> np.ndarray:
    """Bilinearly resize a prior (h, w) to ``frame_hw`` (no-op when equal); float32 out."""
    values = np.asarray(values, dtype=np.float32)
    if tuple(values.shape) != tuple(frame_hw):
        values = cv2.resize(values, (int(frame_hw[1]), int(frame_hw[0])),
                            interpolation=cv2.INTER_LINEAR)
    return values


def check_finite_prior(values: np.ndarray, source: str) -> np.ndarray:
    """Raise BackendError when a network produced NaN/inf, so it never reaches the point map."""
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise BackendError(f'{source} produced {bad} non-finite prior values; '
                           'the weights may be corrupt')
    return values


def focal_from_K(K: Optional[np.ndarray]) -> Optional[float]:
    """fx of a (3, 3) intrinsics matrix, or None when K is None or uncalibrated (fx <= 0).

    Raises:
        InputError: K of another shape or with a non-finite fx.
    """
    if K is None:
        return None
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise InputError(f'K must be (3, 3), got {K.shape}')
    fx = float(K[0, 0])
    if not math.isfinite(fx):
        raise InputError(f'K has a non-finite fx {fx}')
    return fx if fx > 0 else None  # an all-zero CameraInfo K means "not calibrated"


def _linear_taps(n_in: int, n_out: int, align_corners: bool) -> tuple:
    """Source rows (i0, i1) and weights (w0, w1) of PyTorch's bilinear resize, in float32."""
    dst = np.arange(n_out, dtype=np.float32)
    if align_corners:
        scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0.0)
        src = scale * dst
    else:
        scale = np.float32(n_in / n_out)
        src = np.maximum(scale * (dst + np.float32(0.5)) - np.float32(0.5), np.float32(0.0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, np.float32(1.0) - w1, w1


def resize_bilinear(values: np.ndarray, out_hw: tuple, align_corners: bool) -> np.ndarray:
    """(h, w) -> out_hw float32, exactly PyTorch's ``F.interpolate(mode='bilinear')`` maths.

    OpenCV has no align_corners=True mode, and Depth Anything V2 upsamples with it; this
    NumPy version serves both conventions without torch (the ONNX backend).
    """
    values = np.asarray(values, dtype=np.float32)
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    if values.shape == (out_h, out_w):
        return values
    y0, y1, wy0, wy1 = _linear_taps(values.shape[0], out_h, align_corners)
    x0, x1, wx0, wx1 = _linear_taps(values.shape[1], out_w, align_corners)
    top = wx0 * values[y0][:, x0] + wx1 * values[y0][:, x1]
    bottom = wx0 * values[y1][:, x0] + wx1 * values[y1][:, x1]
    return np.ascontiguousarray(wy0[:, None] * top + wy1[:, None] * bottom, dtype=np.float32)
