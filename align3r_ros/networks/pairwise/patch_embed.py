"""Patch embedding (``PatchEmbedDust3R``): a 16x16 stride-16 convolution to tokens + positions."""

from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from align3r_ros.networks.pairwise.rope import grid_positions


class PatchEmbed(nn.Module):
    """Conv2d(in_chans, dim, patch, stride patch) -> (B, N, dim) row-major tokens.

    The parameter lives at ``proj`` (``patch_embed.proj.*`` / ``patch_embed_point_cloud.proj.*``).
    Sizes are validated by the caller (:mod:`.validation`), so this stays traceable.
    """

    def __init__(self, dim: int, patch_size: int = 16, in_chans: int = 3) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Embed images.

        Args:
            x: (B, C, H, W), H and W multiples of the patch size.

        Returns:
            tokens (B, N, dim) with N = (H/p)(W/p), row-major; positions (B, N, 2) int64
            (row, col) patch indices.
        """
        feat = self.proj(x)                                  # (B, dim, H/p, W/p)
        batch, _, grid_h, grid_w = feat.shape
        pos = grid_positions(grid_h, grid_w, x.device).unsqueeze(0).expand(batch, -1, -1)
        return feat.flatten(2).transpose(1, 2), pos
