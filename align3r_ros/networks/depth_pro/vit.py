"""The DINOv2-style ViT that Depth Pro uses three times (patch, image and FOV encoders).

Weight-compatible with timm's ``vit_large_patch14_dinov2`` as Depth Pro builds it (384 px input,
16 px patches, 24 x 24 tokens + a class token, LayerScale, pre-norm blocks, final LayerNorm), and
returns the *normalised token sequence* (Depth Pro rebinds ``forward`` to ``forward_features``).
Parameter names follow timm so that the official state_dict loads strictly.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from align3r_ros.errors import InputError
from align3r_ros.networks.depth_pro.config import VIT_IMAGE_SIZE, VIT_PATCH_SIZE, ViTConfig


class PatchEmbed(nn.Module):
    """16 x 16 stride-16 convolution: (B, 3, 384, 384) -> (B, 576, C), tokens row-major."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=VIT_PATCH_SIZE, stride=VIT_PATCH_SIZE)

    def forward(self, x: Tensor) -> Tensor:
        grid = self.proj(x)
        return grid.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention via ``F.scaled_dot_product_attention`` (no mask, no dropout).

    The ``qkv`` output channel ``s * C + h * head_dim + d`` is q / k / v (s = 0 / 1 / 2) of head h.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class LayerScale(nn.Module):
    """Per-channel gain ``gamma`` (C,) on a residual branch."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """fc1 -> exact (erf) GELU -> fc2, both with bias."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: ``t + ls1(attn(norm1(t)))``, then ``t + ls2(mlp(norm2(t)))``."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.attn = Attention(dim, config.num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.mlp = Mlp(dim, config.mlp_hidden_dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """ViT on (B, 3, 384, 384) images, returning normalised tokens (B, 577, C) (class token first).

    ``pos_embed`` (1, 577, C) includes the class-token slot and is added after the class token is
    prepended. Depth Pro only ever feeds 384 x 384, so the position table is never resampled.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.num_tokens, dim))
        self.patch_embed = PatchEmbed(dim)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.depth)])
        self.norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, 384, 384) -> (B, 577, C) tokens after the final LayerNorm."""
        tokens, _ = self.forward_with_hooks(x, ())
        return tokens

    def forward_with_hooks(self, x: Tensor, hook_ids: Sequence[int]) -> tuple:
        """Tokens after the final LayerNorm plus the raw residual stream after each hooked block.

        Args:
            x: (B, 3, 384, 384) image windows.
            hook_ids: block indices whose outputs (before the final norm) are returned.

        Returns:
            (tokens (B, 577, C), tuple of (B, 577, C), one per ``hook_ids`` entry, in that order).
        """
        if x.shape[-2:] != (VIT_IMAGE_SIZE, VIT_IMAGE_SIZE):
            raise InputError(f'ViT input must be (B, 3, 384, 384), got {tuple(x.shape)}')
        tokens = self.patch_embed(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed
        hooked = {}
        for index, block in enumerate(self.blocks):
            tokens = block(tokens)
            if index in hook_ids:
                hooked[index] = tokens
        return self.norm(tokens), tuple(hooked[i] for i in hook_ids)


def tokens_to_grid(tokens: Tensor) -> Tensor:
    """Drop the class token and lay the 576 tokens out row-major: (n, 577, C) -> (n, C, 24, 24)."""
    count, length, channels = tokens.shape
    side = int(round((length - 1) ** 0.5))
    grid = tokens[:, 1:, :].reshape(count, side, side, channels)
    return grid.permute(0, 3, 1, 2)
