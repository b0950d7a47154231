"""Depth Anything V2 (Yang et al., NeurIPS 2024): DINOv2 encoder + DPT head -> relative disparity.

State-dict keys match the official ``DepthAnythingV2`` (``pretrained.*``, ``depth_head.*``).
The output is affine-invariant inverse depth ("disparity"): larger is nearer, unknown scale and
shift, >= 0. Align3R's DAv2 checkpoint consumes it *as if it were depth* (spec §2.2).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from align3r_ros.networks.depth_anything.config import DepthAnythingV2Config
from align3r_ros.networks.depth_anything.dinov2 import DinoV2Backbone
from align3r_ros.networks.depth_anything.dpt_head import DisparityDPTHead
from align3r_ros.networks.depth_anything.preprocess import rgb_to_network_input


class DepthAnythingV2Net(nn.Module):
    """Relative-disparity network; ``forward`` is the reference ``DepthAnythingV2.forward``."""

    def __init__(self, cfg: DepthAnythingV2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.pretrained = DinoV2Backbone(cfg)
        self.depth_head = DisparityDPTHead(cfg)

    def intermediate_layers(self, image: torch.Tensor
                            ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """The four normed (patch tokens (B, N, C), cls token (B, C)) pairs the head consumes."""
        return self.pretrained.get_intermediate_layers(image, self.cfg.layer_idx)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Disparity at the network resolution.

        Args:
            image: (B, 3, h, w) float, ImageNet-normalised RGB, h and w multiples of 14.

        Returns:
            (B, h, w) relative disparity, >= 0 (arbitrary scale and shift).
        """
        patch = self.cfg.patch_size
        height, width = image.shape[-2:]
        if not torch.jit.is_tracing() and (height % patch or width % patch):
            raise ValueError(f'network input {height}x{width} is not a multiple of {patch}')
        grid_h, grid_w = height // patch, width // patch
        out = self.depth_head(self.intermediate_layers(image), grid_h, grid_w)
        return F.relu(out).squeeze(1)


def upsample_disparity(disparity: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, h, w) -> (B, height, width): bilinear, align_corners=True (as infer_image)."""
    return F.interpolate(disparity[:, None], (height, width), mode='bilinear',
                         align_corners=True)[:, 0]


@torch.inference_mode()
def infer_disparity(model: DepthAnythingV2Net, rgb: np.ndarray,
                    input_size: Optional[int] = None) -> np.ndarray:
    """Reference ``infer_image``: relative disparity at the input resolution.

    Args:
        model: the network, on any device, fp32 (or lower precision on accelerators).
        rgb: (H, W, 3) uint8 RGB.
        input_size: lower bound of the network sides; default the config's (518).

    Returns:
        (H, W) float32 disparity, >= 0, arbitrary scale and shift.
    """
    size = model.cfg.input_size if input_size is None else int(input_size)
    param = next(model.parameters())
    image = torch.from_numpy(rgb_to_network_input(rgb, size, model.cfg.patch_size))
    disparity = model(image.to(device=param.device, dtype=param.dtype))
    disparity = upsample_disparity(disparity.float(), rgb.shape[0], rgb.shape[1])
    return disparity[0].cpu().numpy().astype(np.float32)
