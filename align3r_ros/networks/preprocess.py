"""Frame and depth-prior preprocessing of the official Align3R loader (spec §2.1, §2.3).

An input image (H, W) becomes a network input (h, w) with both sides multiples of 16:

1. resize so that the long side is ``long_side`` (each side ``round(side * long_side / S)``,
   Python rounding): RGB with PIL LANCZOS when shrinking (S > long_side) else BICUBIC;
2. with ``cx = W_r // 2``, ``cy = H_r // 2`` of the resized image, half sizes
   ``halfw = ((2 cx) // 16) * 8`` and ``halfh = ((2 cy) // 16) * 8``;
3. CROP: centre crop ``[cx - halfw, cx + halfw) x [cy - halfh, cy + halfh)``;
   RESIZE: a second, anisotropic resize to (2 halfh, 2 halfw) (PIL LANCZOS, always).

Square resized images: the reference sets ``halfh = 3 halfw / 4`` (a float, then crashes when a
prior is present). Here ``halfh = ((3 halfw // 4) // 8) * 8``: a landscape 4:3 network input
(512x512 -> 512x384), what DUSt3R does for the image; networks were trained on such sizes.

The prior (metric depth or DAv2 disparity, used as Z) is unprojected at its own resolution with
principal point (w'/2, h'/2), each of X, Y, Z min-max normalised to [0, 1] (float32), then resized
with OpenCV (INTER_LANCZOS4 when the prior's long side exceeds ``long_side``, else INTER_CUBIC):

* CROP: to the resized image size (H_r, W_r), then cropped with the image's crop box. For a prior
  at the image's resolution this is exactly the reference; for a prior at another resolution of
  the same field of view (the DAv2 processor output, e.g. 518x924 for 480x854) the reference's
  own long-side resize gives a 287-row map for a 288-row image; here it is resized to the
  image's size instead, so the shapes always agree.
* RESIZE: long-side resize by the prior's own size, then INTER_CUBIC to (h, w), exactly the
  reference's ``crop=False`` path at any prior resolution.

Fixture: ``../shared/fixtures/preprocess`` (exact for the image, <= 3e-7 for the point map).

Just over 300 lines: the image and prior paths share one resize plan and must stay in step to
keep the fixture parity; split, the two halves would each need the other's rounding rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np
from PIL import Image

from align3r_ros.config import PreprocessConfig, PreprocessMode
from align3r_ros.errors import ConfigError, InputError
from align3r_ros.geometry.camera import default_principal_point
from align3r_ros.networks.resample import resample_affine

PATCH = 16
#: Defaults of ``preprocess.*`` (the config is their one source).
_DEFAULTS = PreprocessConfig()
#: A prior whose aspect ratio differs from the image's by more than this (relative) is rejected.
MAX_PRIOR_ASPECT_MISMATCH = 0.1


@dataclass(frozen=True)
class ViewTransform:
    """Geometry of input (H, W) -> network (h, w).

    Pixel centres are at integer coordinates. A network pixel ``u_n`` corresponds to the input
    position ``u = (u_n - offset_x) / scale_x`` with ``u_n = scale_x * u + offset_x``.

    Attributes:
        input_hw: (H, W) of the input image.
        resized_hw: (H_r, W_r) after the long-side resize.
        crop_xy: (x0, y0) of the centre crop in the resized image; (0, 0) for RESIZE.
        network_hw: (h, w), both multiples of 16.
        mode: CROP or RESIZE.
    """

    input_hw: Tuple[int, int]
    resized_hw: Tuple[int, int]
    crop_xy: Tuple[int, int]
    network_hw: Tuple[int, int]
    mode: PreprocessMode

    @property
    def scale_xy(self) -> Tuple[float, float]:
        """Network pixels per input pixel along x and y."""
        ref_h, ref_w = self.resized_hw if self.mode == PreprocessMode.CROP else self.network_hw
        return ref_w / self.input_hw[1], ref_h / self.input_hw[0]

    @property
    def offset_xy(self) -> Tuple[float, float]:
        """Offsets of ``u_n = scale * u + offset`` (pixel-centre convention, minus the crop)."""
        sx, sy = self.scale_xy
        return 0.5 * sx - 0.5 - self.crop_xy[0], 0.5 * sy - 0.5 - self.crop_xy[1]

    def _affine(self) -> np.ndarray:
        (sx, sy), (ox, oy) = self.scale_xy, self.offset_xy
        return np.array([[sx, 0.0, ox], [0.0, sy, oy], [0.0, 0.0, 1.0]])

    def K_to_network(self, K_input: np.ndarray) -> np.ndarray:  # noqa: N802
        """(3, 3) intrinsics at input_hw -> (3, 3) float64 at network_hw."""
        return self._affine() @ _check_K(K_input)

    def K_to_input(self, K_network: np.ndarray) -> np.ndarray:  # noqa: N802
        """(3, 3) intrinsics at network_hw -> (3, 3) float64 at input_hw."""
        return np.linalg.inv(self._affine()) @ _check_K(K_network)

    def map_to_input(self, values: np.ndarray, nearest: bool = False) -> np.ndarray:
        """(h, w[, c]) network map -> (H, W[, c]); pixels outside the crop NaN / False / 0.

        Floats are sampled NaN-aware bilinear (or nearest); bool and integer maps nearest.
        """
        _check_map(values, self.network_hw, 'network')
        (sx, sy), (ox, oy) = self.scale_xy, self.offset_xy
        return resample_affine(values, self.input_hw, (sx, sy), (ox, oy), nearest)

    def map_to_network(self, values: np.ndarray, nearest: bool = True) -> np.ndarray:
        """(H, W[, c]) input map (e.g. GT depth, NaN = invalid) -> (h, w[, c]).

        Nearest by default (no mixing of depths across edges); ``nearest=False`` is NaN-aware
        bilinear.
        """
        _check_map(values, self.input_hw, 'input')
        (sx, sy), (ox, oy) = self.scale_xy, self.offset_xy
        return resample_affine(values, self.network_hw, (1.0 / sx, 1.0 / sy),
                               (-ox / sx, -oy / sy), nearest)


def _check_K(K: np.ndarray) -> np.ndarray:  # noqa: N802
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.all(np.isfinite(K)):
        raise InputError(f'K must be a finite (3, 3) matrix, got shape {K.shape}')
    return K


def _check_map(values: np.ndarray, hw: Tuple[int, int], name: str) -> None:
    if not isinstance(values, np.ndarray) or tuple(values.shape[:2]) != tuple(hw) \
            or values.ndim not in (2, 3):
        shape = getattr(values, 'shape', None)
        raise InputError(f'expected a {name} map of shape {tuple(hw)}[+(c,)], got {shape}')


def _long_side_size(hw: Tuple[int, int], long_side: int) -> Tuple[int, int]:
    longest = max(hw)
    return tuple(int(round(side * long_side / longest)) for side in hw)


def plan_transform(input_hw: Tuple[int, int], long_side: int = _DEFAULTS.long_side,
                   mode: PreprocessMode = _DEFAULTS.mode) -> ViewTransform:
    """The geometry the official loader applies to an (H, W) image.

    Raises:
        ConfigError: ``long_side`` not a positive multiple of 16, unknown ``mode``.
        InputError: empty input, or an aspect ratio so extreme that a side falls below 16.
    """
    if not isinstance(long_side, int) or long_side < PATCH or long_side % PATCH:
        raise ConfigError(f'preprocess.long_side must be a positive multiple of {PATCH}, '
                          f'got {long_side!r}')
    try:
        mode = PreprocessMode(mode)
    except ValueError:
        raise ConfigError(f'preprocess.mode must be crop or resize, got {mode!r}') from None
    height, width = (int(s) for s in input_hw)
    if height < 1 or width < 1:
        raise InputError(f'empty image: input size (H, W) = {tuple(input_hw)}')
    resized_hw = _long_side_size((height, width), long_side)
    cy, cx = resized_hw[0] // 2, resized_hw[1] // 2
    halfw = ((2 * cx) // PATCH) * (PATCH // 2)
    halfh = ((2 * cy) // PATCH) * (PATCH // 2)
    if resized_hw[0] == resized_hw[1]:
        halfh = ((3 * halfw // 4) // (PATCH // 2)) * (PATCH // 2)
    if halfw < PATCH // 2 or halfh < PATCH // 2:
        raise InputError(f'image of size (H, W) = {(height, width)} gives a network input of '
                         f'{(2 * halfh, 2 * halfw)} at long side {long_side}: a side below '
                         f'{PATCH}')
    crop_xy = (cx - halfw, cy - halfh) if mode == PreprocessMode.CROP else (0, 0)
    return ViewTransform(input_hw=(height, width), resized_hw=resized_hw, crop_xy=crop_xy,
                         network_hw=(2 * halfh, 2 * halfw), mode=mode)


def network_rgb(rgb: np.ndarray, transform: ViewTransform) -> np.ndarray:
    """The (h, w, 3) uint8 colours of the network pixels (PIL resampling of the reference).

    Args:
        rgb: (H, W, 3) uint8 RGB at ``transform.input_hw``.

    Raises:
        InputError: not a uint8 (H, W, 3) array of the planned size (gray, RGBA, empty, ...).
    """
    _check_rgb(rgb, transform)
    height, width = transform.input_hw
    image = Image.fromarray(np.ascontiguousarray(rgb), 'RGB')
    long_side = max(transform.resized_hw)
    resample = Image.LANCZOS if max(height, width) > long_side else Image.BICUBIC
    image = image.resize((transform.resized_hw[1], transform.resized_hw[0]), resample)
    h, w = transform.network_hw
    if transform.mode == PreprocessMode.CROP:
        x0, y0 = transform.crop_xy
        image = image.crop((x0, y0, x0 + w, y0 + h))
    else:
        image = image.resize((w, h), Image.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def _check_rgb(rgb: np.ndarray, transform: ViewTransform) -> None:
    if not isinstance(rgb, np.ndarray):
        raise InputError(f'image must be a numpy array, got {type(rgb).__name__}')
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f'image must be (H, W, 3) RGB, got shape {rgb.shape} (convert gray '
                         'or RGBA before preprocessing)')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise InputError(f'empty image of shape {rgb.shape}')
    if rgb.dtype != np.uint8:
        raise InputError(f'image must be uint8, got {rgb.dtype}')
    if tuple(rgb.shape[:2]) != tuple(transform.input_hw):
        raise InputError(f'image size {rgb.shape[:2]} differs from the planned input size '
                         f'{transform.input_hw}')


def preprocess_image(rgb: np.ndarray, transform: ViewTransform) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3, h, w) float32 in [-1, 1]: (u8 / 255 - 0.5) / 0.5."""
    return normalise_network_rgb(network_rgb(rgb, transform))


def normalise_network_rgb(colours: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 from :func:`network_rgb` -> (3, h, w) float32 in [-1, 1].

    Lets a caller that needs both the colours and the network input resample only once.
    """
    if not isinstance(colours, np.ndarray) or colours.dtype != np.uint8 or colours.ndim != 3 \
            or colours.shape[2] != 3:
        shape = getattr(colours, 'shape', None)
        raise InputError(f'expected (h, w, 3) uint8 colours, got shape {shape}')
    pixels = colours.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(((pixels - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1))


def prior_to_pointmap(prior: np.ndarray, transform: ViewTransform,
                      focal_px: float = 200.0) -> np.ndarray:
    """Monocular prior -> normalised point map at network resolution (spec §2.3).

    Args:
        prior: (H', W') or (1, H', W') depth (metres, or DAv2 disparity used as depth), any
            resolution whose aspect ratio matches the image within 10 % (see module docstring);
            finite everywhere.
        transform: the image's transform.
        focal_px: focal length at (H', W') in pixels; cancels in the normalisation (kept for
            fidelity with the reference, which uses 200 for DAv2 and the predicted focal for
            Depth Pro).

    Returns:
        (h, w, 3) float32 X, Y, Z each min-max normalised to [0, 1] at native resolution, then
        resampled (slight interpolation overshoot outside [0, 1] is genuine).

    Raises:
        InputError: wrong shape, non-finite values, a constant axis (e.g. constant depth),
            non-positive focal, or an aspect ratio unlike the image's.
    """
    depth = _check_prior(prior, transform)
    if not (math.isfinite(focal_px) and focal_px > 0):
        raise InputError(f'focal_px must be finite and > 0, got {focal_px!r}')
    native = normalised_pointmap_native(depth, focal_px)
    long_side = max(transform.resized_hw)
    interp = cv2.INTER_LANCZOS4 if max(depth.shape) > long_side else cv2.INTER_CUBIC
    h, w = transform.network_hw
    if transform.mode == PreprocessMode.CROP:
        resized_h, resized_w = transform.resized_hw
        pointmap = cv2.resize(native, (resized_w, resized_h), interpolation=interp)
        x0, y0 = transform.crop_xy
        pointmap = pointmap[y0:y0 + h, x0:x0 + w]
    else:
        own_h, own_w = _long_side_size(depth.shape, long_side)
        pointmap = cv2.resize(native, (own_w, own_h), interpolation=interp)
        pointmap = cv2.resize(pointmap, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(pointmap, dtype=np.float32)


def normalised_pointmap_native(depth: np.ndarray, focal_px: float) -> np.ndarray:
    """(h', w') depth -> (h', w', 3) float32 per-axis min-max normalised point map.

    Unprojection with the default principal point (w'/2, h'/2) in float64, cast to float32, then
    (P - min) / (max - min) per channel in float32 (bit-exact with the reference).
    """
    height, width = depth.shape
    cx, cy = default_principal_point(height, width)
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    # (u - cx) · z / f, in this order: bit-exact with the reference (not geometry's unproject)
    x = (u - cx) * depth / focal_px
    y = (v - cy) * depth / focal_px
    points = np.dstack((x, y, depth)).astype(np.float32)
    low, high = points.min(axis=(0, 1)), points.max(axis=(0, 1))
    span = high - low
    if not np.all(span > 0):
        axis = 'XYZ'[int(np.argmin(span))]
        raise InputError(f'prior gives a constant {axis} axis (value {low[int(np.argmin(span))]}'
                         f'); min-max normalisation would divide by zero')
    return (points - low) / span


def _check_prior(prior: np.ndarray, transform: ViewTransform) -> np.ndarray:
    if not isinstance(prior, np.ndarray) or not np.issubdtype(prior.dtype, np.number):
        raise InputError(f'prior must be a numeric numpy array, got {type(prior).__name__}')
    depth = prior[0] if prior.ndim == 3 and prior.shape[0] == 1 else prior
    if depth.ndim != 2 or depth.shape[0] < 1 or depth.shape[1] < 1:
        raise InputError(f'prior must be (H, W) or (1, H, W), got shape {prior.shape}')
    depth = depth.astype(np.float32)
    bad = ~np.isfinite(depth)
    if bad.any():
        raise InputError(f'prior has {int(bad.sum())} non-finite values (e.g. '
                         f'{depth[bad].flat[0]}); fill invalid pixels first')
    aspect_prior = depth.shape[1] / depth.shape[0]
    aspect_image = transform.input_hw[1] / transform.input_hw[0]
    if abs(aspect_prior / aspect_image - 1.0) > MAX_PRIOR_ASPECT_MISMATCH:
        raise InputError(f'prior of size {depth.shape} does not cover an image of size '
                         f'{transform.input_hw} (aspect ratios {aspect_prior:.3f} vs '
                         f'{aspect_image:.3f})')
    return depth
