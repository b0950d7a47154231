"""DINOv2 vision transformer as used by Depth Anything V2 (state-dict prefix ``pretrained.``).

Weight-compatible with the official ``DinoVisionTransformer`` (no register tokens, LayerScale,
MLP FFN, LayerNorm eps 1e-6). Only the inference path is implemented: no masking, no drop-path.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from align3r_ros.networks.depth_anything.config import DepthAnythingV2Config
from align3r_ros.networks.depth_anything.pos_embed import resample_pos_grid


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection: (B, 3, H, W) -> (B, H/p * W/p, C)."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # Same maths as the reference's softmax(q * d^-0.5 @ k^T) @ v; the fused kernel differs
        # only by float rounding (~1e-7 relative on the fixture).
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block: x + ls1(attn(norm1 x)), then x + ls2(mlp(norm2 x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoV2Backbone(nn.Module):
    """DINOv2 encoder returning normed intermediate tokens for the DPT head."""

    def __init__(self, cfg: DepthAnythingV2Config) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.patch_size = cfg.patch_size
        self.pos_grid = cfg.pos_grid
        self.interpolate_offset = cfg.interpolate_offset
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.pos_grid ** 2, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # training only; kept for the keys
        self.patch_embed = PatchEmbed(cfg.patch_size, dim)
        self.blocks = nn.ModuleList(
            Block(dim, cfg.num_heads, cfg.mlp_ratio, cfg.ln_eps) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(dim, eps=cfg.ln_eps)

    def position_embedding(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """Position embedding (1, 1 + grid_h * grid_w, C) for a grid_h x grid_w patch grid.

        Reference behaviour: the stored 37x37 grid is used as is for a square 37x37 input;
        otherwise it is resized bicubically (no antialias) with *scale factors*
        (n + 0.1) / 37, which PyTorch uses for the sampling positions (not the output size).
        Implemented as two resampling matrices (:mod:`.pos_embed`) so that the ONNX export
        keeps the input size dynamic; equal to ``F.interpolate`` within ~3e-6.
        """
        pos = self.pos_embed.float()
        dim = pos.shape[-1]
        grid = pos[0, 1:].reshape(self.pos_grid, self.pos_grid, dim)
        patch_pos = resample_pos_grid(grid, grid_h, grid_w, self.interpolate_offset)
        return torch.cat([pos[:, :1], patch_pos.reshape(1, grid_h * grid_w, dim)], dim=1)

    def tokens(self, image: torch.Tensor) -> torch.Tensor:
        """Embedded tokens (B, 1 + N, C): class token first, then patches row-major."""
        batch, _, height, width = image.shape
        x = self.patch_embed(image)
        x = torch.cat([self.cls_token.expand(batch, -1, -1), x], dim=1)
        grid_h, grid_w = height // self.patch_size, width // self.patch_size
        return x + self.position_embedding(grid_h, grid_w).to(x.dtype)

    def get_intermediate_layers(self, image: torch.Tensor, layer_idx: Sequence[int]
                                ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """Normed outputs of the chosen blocks.

        Args:
            image: (B, 3, H, W) normalised image, H and W multiples of the patch size.
            layer_idx: block indices, ascending.

        Returns:
            One (patch_tokens (B, N, C), cls_token (B, C)) pair per index.
        """
        wanted = set(layer_idx)
        x = self.tokens(image)
        taken = {}
        for index, block in enumerate(self.blocks[:max(layer_idx) + 1]):
            x = block(x)
            if index in wanted:
                taken[index] = self.norm(x)
        return [(taken[i][:, 1:], taken[i][:, 0]) for i in layer_idx]
