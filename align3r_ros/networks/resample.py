"""Resampling of per-pixel maps under an axis-aligned affine pixel mapping.

Used to carry maps between an input image and the network resolution (see
:class:`align3r_ros.networks.preprocess.ViewTransform`). Pixel centres are at integer
coordinates; a destination pixel ``(u, v)`` samples the source at ``x = scale_x * u + offset_x``,
``y = scale_y * v + offset_y``. A destination pixel whose sample position lies outside the
source's pixel extent ``[-0.5, w - 0.5] x [-0.5, h - 0.5]`` gets the fill value.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from align3r_ros.errors import InputError

# Slack on the extent test so that positions computed as a*u + b round-trip exactly at the border.
_EXTENT_EPS = 1e-6


def fill_value_for(dtype: np.dtype):
    """The value of pixels without a source: NaN for floats, False for bool, 0 for integers."""
    if np.issubdtype(dtype, np.floating):
        return np.nan
    if dtype == np.bool_:
        return False
    if np.issubdtype(dtype, np.integer):
        return 0
    raise InputError(f'cannot resample a map of dtype {dtype}')


def _positions(size_out: int, size_src: int, scale: float, offset: float):
    """Sample positions along one axis and whether each lies inside the source extent."""
    pos = scale * np.arange(size_out, dtype=np.float64) + offset
    inside = (pos >= -0.5 - _EXTENT_EPS) & (pos <= size_src - 0.5 + _EXTENT_EPS)
    return np.clip(pos, 0.0, size_src - 1.0), inside


def resample_affine(values: np.ndarray, out_hw: Tuple[int, int], scale_xy: Tuple[float, float],
                    offset_xy: Tuple[float, float], nearest: bool) -> np.ndarray:
    """Resample a (h, w[, c]) map to ``out_hw`` under ``x = sx * u + ox``, ``y = sy * v + oy``.

    Args:
        values: (h, w) or (h, w, c) map; float, bool or integer. NaN marks invalid float pixels.
        out_hw: (H, W) of the result.
        scale_xy, offset_xy: the mapping from destination to source pixel coordinates.
        nearest: nearest-neighbour sampling; otherwise NaN-aware bilinear (the weights of NaN
            neighbours are dropped and the rest renormalised; NaN when all four are NaN).
            Bool and integer maps are always sampled nearest.

    Returns:
        (H, W[, c]) map of ``values.dtype``; pixels sampling outside the source get
        :func:`fill_value_for` (NaN / False / 0).
    """
    if values.ndim not in (2, 3) or values.shape[0] < 1 or values.shape[1] < 1:
        raise InputError(f'expected a non-empty (h, w) or (h, w, c) map, got {values.shape}')
    fill = fill_value_for(values.dtype)
    h_src, w_src = values.shape[:2]
    h_out, w_out = int(out_hw[0]), int(out_hw[1])
    xs, inside_x = _positions(w_out, w_src, scale_xy[0], offset_xy[0])
    ys, inside_y = _positions(h_out, h_src, scale_xy[1], offset_xy[1])
    inside = inside_y[:, None] & inside_x[None, :]
    if nearest or not np.issubdtype(values.dtype, np.floating):
        ix = np.floor(xs + 0.5).astype(np.int64).clip(0, w_src - 1)
        iy = np.floor(ys + 0.5).astype(np.int64).clip(0, h_src - 1)
        out = values[iy[:, None], ix[None, :]].copy()
    else:
        out = _bilinear_nan_aware(values, xs, ys)
    out[~inside] = fill
    return out


def _bilinear_nan_aware(values: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    h_src, w_src = values.shape[:2]
    x0 = np.floor(xs).astype(np.int64).clip(0, w_src - 1)
    y0 = np.floor(ys).astype(np.int64).clip(0, h_src - 1)
    x1 = np.minimum(x0 + 1, w_src - 1)
    y1 = np.minimum(y0 + 1, h_src - 1)
    tx = (xs - x0)[None, :]
    ty = (ys - y0)[:, None]
    if values.ndim == 3:
        tx, ty = tx[..., None], ty[..., None]
    acc = 0.0
    weight = 0.0
    for yy, xx, w in ((y0, x0, (1 - ty) * (1 - tx)), (y0, x1, (1 - ty) * tx),
                      (y1, x0, ty * (1 - tx)), (y1, x1, ty * tx)):
        corner = values[yy[:, None], xx[None, :]].astype(np.float64)
        finite = np.isfinite(corner)
        w_eff = np.where(finite, w, 0.0)
        acc = acc + np.where(finite, corner, 0.0) * w_eff
        weight = weight + w_eff
    with np.errstate(invalid='ignore', divide='ignore'):
        out = np.where(weight > 1e-12, acc / np.maximum(weight, 1e-300), np.nan)
    return out.astype(values.dtype)
