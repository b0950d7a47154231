"""Native PyTorch prior backends: Depth Anything V2 (disparity) and Depth Pro (metric depth).

Both implement :class:`align3r_ros.backends.base.PriorBackend`: (H, W, 3) frames in (grayscale
and RGBA converted, > 4K downscaled first), a finite :class:`PriorMap` at (H, W) out.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from align3r_ros.backends.prior_frame import (
    check_finite_prior, focal_from_K, prepare_frame, resize_prior)
from align3r_ros.config import PriorKind
from align3r_ros.structures import PriorMap


def _autocast(model: torch.nn.Module, dtype: Optional[torch.dtype]) -> Any:
    """Autocast on accelerators only (the house rule); fp32 on CPU."""
    device = next(model.parameters()).device
    if dtype is None or dtype == torch.float32 or device.type == 'cpu':
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class DepthAnythingPriorBackend:
    """Depth Anything V2 relative disparity (the prior of the Align3R-DAv2 checkpoint).

    Args:
        model: a loaded :class:`DepthAnythingV2Net` in eval mode, on its device.
        input_size: lower bound of the network input sides (official 518); None = model's.
        autocast_dtype: fp16/bf16 autocast on accelerators, None for fp32.
    """

    kind = PriorKind.DISPARITY

    def __init__(self, model: torch.nn.Module, input_size: Optional[int] = None,
                 autocast_dtype: Optional[torch.dtype] = None) -> None:
        self.model = model.eval()
        self.input_size = input_size
        self.autocast_dtype = autocast_dtype

    @classmethod
    def from_weights(cls, path: Union[str, Path], model_name: Optional[str] = None,
                     device: Union[str, torch.device] = 'cpu',
                     autocast_dtype: Optional[torch.dtype] = None,
                     input_size: Optional[int] = None) -> 'DepthAnythingPriorBackend':
        """Load ``depth_anything_v2_vit{s,b,l}.pth``; ``model_name`` None = detect from keys."""
        from align3r_ros.networks.depth_anything.checkpoint import load_depth_anything_v2

        model = load_depth_anything_v2(path, config=model_name, device=device)
        return cls(model, input_size=input_size, autocast_dtype=autocast_dtype)

    def estimate(self, rgb: np.ndarray, K: Optional[np.ndarray] = None) -> PriorMap:
        """Disparity (H, W) float32 >= 0 at the frame's resolution; K is not used."""
        from align3r_ros.networks.depth_anything.model import infer_disparity

        frame = prepare_frame(rgb)
        with _autocast(self.model, self.autocast_dtype):
            disparity = infer_disparity(self.model, frame.rgb, self.input_size)
        values = check_finite_prior(resize_prior(disparity, frame.frame_hw),
                                    'Depth Anything V2')
        return PriorMap(values=values, kind=self.kind, focal_px=None,
                        valid=np.ones(values.shape, dtype=bool))


class DepthProPriorBackend:
    """Depth Pro metric depth in metres (the prior of the Align3R-DepthPro checkpoint).

    When ``K`` is passed to :meth:`estimate`, its fx is Depth Pro's focal (official
    ``infer(image, f_px)``), otherwise the FOV head estimates it; the focal used is returned.

    Args:
        model: a loaded ``DepthPro`` in eval mode, on its device.
        autocast_dtype: fp16/bf16 autocast on accelerators, None for fp32.
    """

    kind = PriorKind.METRIC_DEPTH

    def __init__(self, model: torch.nn.Module,
                 autocast_dtype: Optional[torch.dtype] = None) -> None:
        self.model = model.eval()
        self.autocast_dtype = autocast_dtype

    @classmethod
    def from_weights(cls, path: Union[str, Path], device: Union[str, torch.device] = 'cpu',
                     autocast_dtype: Optional[torch.dtype] = None) -> 'DepthProPriorBackend':
        """Load the official ``depth_pro.pt`` strictly."""
        from align3r_ros.networks.depth_pro import load_depth_pro

        return cls(load_depth_pro(path, device=device), autocast_dtype=autocast_dtype)

    def estimate(self, rgb: np.ndarray, K: Optional[np.ndarray] = None) -> PriorMap:
        """Metric depth (H, W) float32 metres, and the focal in pixels at (H, W)."""
        from align3r_ros.networks.depth_pro import predict_depth

        frame = prepare_frame(rgb)
        fx = focal_from_K(K)
        f_px = None if fx is None else fx * frame.scale
        with torch.inference_mode(), _autocast(self.model, self.autocast_dtype):
            depth, focal_px = predict_depth(self.model, frame.rgb, f_px)
        values = check_finite_prior(resize_prior(depth, frame.frame_hw), 'Depth Pro')
        return PriorMap(values=values, kind=self.kind, focal_px=float(focal_px) / frame.scale,
                        valid=np.ones(values.shape, dtype=bool))
