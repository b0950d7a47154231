"""Depth Pro's multi-resolution encoder: a 3-level image pyramid cut into overlapping 384-px
windows, one patch ViT over all 35 windows, one global image ViT, and five projected maps.

Geometry (fixed by the official code, spec.md §3.2-3.3), for a (B, 3, 1536, 1536) input:

* level 0: the 1536 image, 5 x 5 windows with stride 288 (overlap 0.25), merged with padding 3
  tokens -> 96 x 96 tokens;
* level 1: bilinear 0.5x (768), 3 x 3 windows with stride 192 (overlap 0.5), padding 6 -> 48 x 48;
* level 2: bilinear 0.25x (384), one window -> 24 x 24; the image encoder sees the same image.

Windows are enumerated row-major (outer loop over y) and stacked window-major: the batch index of
window k, image b is ``k * B + b``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from align3r_ros.networks.depth_pro.config import DepthProConfig, VIT_IMAGE_SIZE
from align3r_ros.networks.depth_pro.vit import tokens_to_grid, VisionTransformer

#: (scale factor, window overlap ratio, merge padding in tokens) of pyramid levels 0 and 1.
LEVEL0 = (1.0, 0.25, 3)
LEVEL1 = (0.5, 0.5, 6)
LEVEL2_SCALE = 0.25
#: Number of level-0 windows whose hooked tokens are merged (5 x 5, hard-coded officially).
LEVEL0_WINDOWS = 25


def build_pyramid(x: Tensor) -> tuple:
    """(B, 3, 1536, 1536) -> (x0 1536, x1 768, x2 384), bilinear, align_corners=False, no AA."""
    x1 = F.interpolate(x, scale_factor=LEVEL1[0], mode='bilinear', align_corners=False)
    x2 = F.interpolate(x, scale_factor=LEVEL2_SCALE, mode='bilinear', align_corners=False)
    return x, x1, x2


def split_windows(image: Tensor, overlap_ratio: float) -> Tensor:
    """Cut (B, C, S, S) into overlapping 384-px windows, row-major.

    Returns:
        (steps^2 * B, C, 384, 384), window k of image b at index ``k * B + b``.
    """
    stride = int(VIT_IMAGE_SIZE * (1.0 - overlap_ratio))
    steps = int(math.ceil((image.shape[-1] - VIT_IMAGE_SIZE) / stride)) + 1
    windows = []
    for row in range(steps):
        top = row * stride
        for col in range(steps):
            left = col * stride
            windows.append(image[..., top:top + VIT_IMAGE_SIZE, left:left + VIT_IMAGE_SIZE])
    return torch.cat(windows, dim=0)


def merge_windows(grids: Tensor, batch_size: int, padding: int) -> Tensor:
    """Stitch (steps^2 * B, C, h, w) window maps back into (B, C, H, W).

    Each window is trimmed by ``padding`` tokens on every side that touches a neighbouring window
    (image-border sides are kept), then windows are concatenated along width within a row and
    rows along height.
    """
    steps = int(math.sqrt(grids.shape[0] // batch_size))
    rows = []
    for row in range(steps):
        row_maps = []
        for col in range(steps):
            index = row * steps + col
            window = grids[batch_size * index:batch_size * (index + 1)]
            if row != 0:
                window = window[..., padding:, :]
            if col != 0:
                window = window[..., :, padding:]
            if row != steps - 1:
                window = window[..., :-padding, :]
            if col != steps - 1:
                window = window[..., :, :-padding]
            row_maps.append(window)
        rows.append(torch.cat(row_maps, dim=-1))
    return torch.cat(rows, dim=-2)


def project_upsample(dim_in: int, dim_out: int, upsample_layers: int,
                     dim_int: int = 0) -> nn.Sequential:
    """1x1 conv (no bias) dim_in -> dim_int, then ``upsample_layers`` k2 s2 transposed convs
    (no bias) to dim_out; each doubles H and W. ``dim_int`` defaults to ``dim_out``."""
    dim_int = dim_int or dim_out
    layers = [nn.Conv2d(dim_in, dim_int, kernel_size=1, bias=False)]
    for index in range(upsample_layers):
        layers.append(nn.ConvTranspose2d(dim_int if index == 0 else dim_out, dim_out,
                                         kernel_size=2, stride=2, bias=False))
    return nn.Sequential(*layers)


class DepthProEncoder(nn.Module):
    """Pyramid encoder: (B, 3, 1536, 1536) -> 5 maps (official ``DepthProEncoder``).

    Output shapes (full size): (B, D, 768, 768), (B, dims0, 384, 384), (B, dims1, 192, 192),
    (B, dims2, 96, 96), (B, dims3, 48, 48); D = decoder_features.
    """

    def __init__(self, config: DepthProConfig) -> None:
        super().__init__()
        width = config.vit.embed_dim
        dims = config.encoder_feature_dims
        self.hook_block_ids = config.hook_block_ids
        self.patch_encoder = VisionTransformer(config.vit)
        self.image_encoder = VisionTransformer(config.vit)
        self.upsample_latent0 = project_upsample(width, config.decoder_features, 3,
                                                 dim_int=dims[0])
        self.upsample_latent1 = project_upsample(width, dims[0], 2)
        self.upsample0 = project_upsample(width, dims[1], 1)
        self.upsample1 = project_upsample(width, dims[2], 1)
        self.upsample2 = project_upsample(width, dims[3], 1)
        self.upsample_lowres = nn.ConvTranspose2d(width, dims[3], kernel_size=2, stride=2,
                                                  bias=True)
        self.fuse_lowres = nn.Conv2d(2 * dims[3], dims[3], kernel_size=1, bias=True)

    def forward(self, x: Tensor) -> list:
        """(B, 3, 1536, 1536) in [-1, 1] -> the 5 encoder maps, highest resolution first."""
        batch = x.shape[0]
        x0, x1, x2 = build_pyramid(x)
        windows0 = split_windows(x0, LEVEL0[1])
        windows1 = split_windows(x1, LEVEL1[1])
        windows = torch.cat([windows0, windows1, x2], dim=0)

        tokens, hooks = self.patch_encoder.forward_with_hooks(windows, self.hook_block_ids)
        level0_hooks = [tokens_to_grid(h)[:batch * LEVEL0_WINDOWS] for h in hooks]
        latent0 = merge_windows(level0_hooks[0], batch, LEVEL0[2])
        latent1 = merge_windows(level0_hooks[1], batch, LEVEL0[2])

        grids0, grids1, grid2 = torch.split(
            tokens_to_grid(tokens), [len(windows0), len(windows1), len(x2)], dim=0)
        features0 = merge_windows(grids0, batch, LEVEL0[2])
        features1 = merge_windows(grids1, batch, LEVEL1[2])
        global_grid = tokens_to_grid(self.image_encoder(x2))

        lowres = self.upsample_lowres(global_grid)
        fused = self.fuse_lowres(torch.cat([self.upsample2(grid2), lowres], dim=1))
        return [
            self.upsample_latent0(latent0),
            self.upsample_latent1(latent1),
            self.upsample0(features0),
            self.upsample1(features1),
            fused,
        ]
