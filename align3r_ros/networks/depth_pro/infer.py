"""Depth Pro post-processing (official ``DepthPro.infer``, spec.md §9) and a numpy convenience.

canonical inverse depth (B, 1, h, w) and FOV (B, 1, 1, 1) degrees, for an original (H, W) image:
``f_px = 0.5 W / tan(0.5 deg2rad(fov))`` unless given; ``inverse_depth = canonical * (W / f_px)``;
bilinear resize (align_corners=False) back to (H, W) when (h, w) differs; ``depth = 1 /
clamp(inverse_depth, 1e-4, 1e4)`` metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Protocol, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from align3r_ros.errors import BackendError, InputError
from align3r_ros.networks.depth_pro.preprocess import preprocess_rgb

#: Clamp of the inverse depth before inversion, so depth lies in [1e-4, 1e4] m.
INVERSE_DEPTH_RANGE = (1e-4, 1e4)


@dataclass(frozen=True)
class DepthProPrediction:
    """Depth Pro output at the input resolution.

    Attributes:
        depth: (H, W) float32 metres along the optical axis ((B, H, W) for a batched call), in
            [1e-4, 1e4].
        focallength_px: () float32 horizontal focal length in pixels at (H, W) ((B,) batched):
            estimated from the FOV head, or the caller's f_px.
    """

    depth: Tensor
    focallength_px: Tensor


def check_image_tensor(image: Tensor) -> Tensor:
    """Validate a (3, H, W) or (B, 3, H, W) normalised image; return it as (B, 3, H, W).

    Raises:
        InputError: naming the wrong shape or dtype, or non-finite pixels.
    """
    if not isinstance(image, Tensor) or image.ndim not in (3, 4) or image.shape[-3] != 3:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise InputError(f'Depth Pro needs a (3, H, W) or (B, 3, H, W) image tensor, got {shape}')
    x = image if image.ndim == 4 else image[None]
    if min(x.shape) < 1:
        raise InputError(f'Depth Pro got an empty image tensor {tuple(image.shape)}')
    if not x.is_floating_point():
        raise InputError(f'Depth Pro needs a float image in [-1, 1], got dtype {x.dtype}')
    if not bool(torch.isfinite(x).all()):
        raise InputError('Depth Pro input image contains NaN or infinite values')
    return x


def focal_tensor(f_px: Union[float, Tensor], batch: int) -> Tensor:
    """A caller's focal as float32 of shape (B', 1, 1, 1) with B' in {1, B}; validated."""
    focal = torch.as_tensor(f_px, dtype=torch.float32).detach().cpu()
    if focal.numel() not in (1, batch):
        raise InputError(f'f_px must be a scalar or have {batch} entries, got shape '
                         f'{tuple(focal.shape)}')
    if not bool(torch.isfinite(focal).all()) or not bool((focal > 0).all()):
        raise InputError(f'f_px must be finite and > 0 pixels, got {focal.tolist()}')
    return focal.reshape(-1, 1, 1, 1)


def canonical_to_prediction(canonical_inverse_depth: Tensor, fov_deg: Tensor, image_hw: tuple,
                            f_px: Optional[Union[float, Tensor]] = None) -> DepthProPrediction:
    """Official post-processing; always batched.

    Args:
        canonical_inverse_depth: (B, 1, h, w) network output (1536 x 1536 in practice).
        fov_deg: (B, 1, 1, 1) horizontal field of view in degrees.
        image_hw: original (H, W) in pixels; W sets the metric scale.
        f_px: known horizontal focal in pixels at (H, W) (scalar or (B,)), or None.

    Returns:
        DepthProPrediction with depth (B, H, W) metres and focallength_px (B,) pixels.
    """
    height, width = int(image_hw[0]), int(image_hw[1])
    canonical = canonical_inverse_depth.float()
    batch = canonical.shape[0]
    if f_px is None:
        focal = 0.5 * width / torch.tan(0.5 * torch.deg2rad(fov_deg.float()))
    else:
        focal = focal_tensor(f_px, batch).to(canonical.device)
    inverse_depth = canonical * (width / focal)
    if tuple(inverse_depth.shape[-2:]) != (height, width):
        inverse_depth = F.interpolate(inverse_depth, size=(height, width), mode='bilinear',
                                      align_corners=False)
    depth = 1.0 / torch.clamp(inverse_depth, min=INVERSE_DEPTH_RANGE[0],
                              max=INVERSE_DEPTH_RANGE[1])
    if not bool(torch.isfinite(depth).all()):
        raise BackendError('Depth Pro produced non-finite depth; the weights may be corrupt')
    focal = focal.reshape(-1).expand(batch)
    if not bool(torch.isfinite(focal).all()):
        raise BackendError(f'Depth Pro produced a non-finite focal length {focal.tolist()}')
    return DepthProPrediction(depth=depth[:, 0], focallength_px=focal)


class DepthInference(Protocol):
    """What :func:`predict_depth` needs of a model: ``DepthPro.infer`` (no import of the model
    here, which itself uses this module's post-processing)."""

    def infer(self, image: Tensor,
              f_px: Optional[Union[float, Tensor]] = None) -> 'DepthProPrediction':
        ...


def predict_depth(model: DepthInference, rgb: np.ndarray,
                  f_px: Optional[float] = None) -> tuple:
    """Metric depth for one RGB frame.

    Args:
        model: a DepthPro in eval mode.
        rgb: (H, W, 3) uint8 RGB; grayscale (H, W) / (H, W, 1) and RGBA are converted.
        f_px: known horizontal focal length in pixels at (H, W) (e.g. fx of the camera), or None.

    Returns:
        (depth (H, W) float32 metres, focal length in pixels as a float).
    """
    if f_px is not None and not (isinstance(f_px, (int, float, np.floating, np.integer))
                                 and math.isfinite(float(f_px)) and float(f_px) > 0):
        raise InputError(f'f_px must be a finite positive number of pixels, got {f_px!r}')
    image = preprocess_rgb(rgb)
    focal = None if f_px is None else torch.tensor(float(f_px), dtype=torch.float32)
    prediction = model.infer(image, f_px=focal)
    depth = prediction.depth.detach().to('cpu', torch.float32).numpy()
    return np.ascontiguousarray(depth), float(prediction.focallength_px)
