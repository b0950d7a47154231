"""Depth Pro's field-of-view head (official ``FOVNetwork``).

Its own ViT sees the 0.25x (384 px) image; its tokens, projected to D/2, are added to a stride-2
conv of the decoder's 48 x 48 low-resolution features, and three strided convs reduce the sum to
one value per image: the horizontal field of view in degrees.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from align3r_ros.networks.depth_pro.config import DepthProConfig
from align3r_ros.networks.depth_pro.vit import VisionTransformer


class FOVNetwork(nn.Module):
    """(x (B, 3, 1536, 1536), lowres (B, D, 48, 48)) -> fov_deg (B, 1, 1, 1), degrees."""

    def __init__(self, config: DepthProConfig) -> None:
        super().__init__()
        dim = config.decoder_features
        self.encoder = nn.Sequential(
            VisionTransformer(config.vit), nn.Linear(config.vit.embed_dim, dim // 2))
        self.downsample = nn.Sequential(
            nn.Conv2d(dim, dim // 2, kernel_size=3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Sequential(
            nn.Conv2d(dim // 2, dim // 4, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(dim // 4, dim // 8, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(dim // 8, 1, kernel_size=6, stride=1, padding=0))

    def forward(self, x: Tensor, lowres: Tensor) -> Tensor:
        image = F.interpolate(x, scale_factor=0.25, mode='bilinear', align_corners=False)
        tokens = self.encoder(image)[:, 1:].permute(0, 2, 1)
        lowres = self.downsample(lowres)
        return self.head(tokens.reshape_as(lowres) + lowres)
