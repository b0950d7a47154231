"""Transformer blocks of the CroCo / DUSt3R trunk (spec §1.2): ViT block and decoder block.

Pre-LayerNorm (eps 1e-6), exact-erf GELU MLP with hidden width ``mlp_ratio * dim``, qkv with bias,
attention through :func:`torch.nn.functional.scaled_dot_product_attention` with 2-D RoPE applied
to queries and keys. Parameter names match the official state dict (``attn.qkv``, ``attn.proj``,
``cross_attn.projq/projk/projv/proj``, ``norm1/2/3``, ``norm_y``, ``mlp.fc1/fc2``).

Token tensors are (B, N, C); RoPE tables are ``(cos, sin)`` from :mod:`.rope`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (conventional name)

from align3r_ros.networks.pairwise.rope import apply_rope, RopeTables

LAYER_NORM_EPS = 1e-6


def layer_norm(dim: int) -> nn.LayerNorm:
    """The trunk's LayerNorm (eps 1e-6, affine)."""
    return nn.LayerNorm(dim, eps=LAYER_NORM_EPS)


class Mlp(nn.Module):
    """fc1 -> GELU (erf) -> fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, N, C) -> (B, heads, N, C / heads)."""
    return x.unflatten(-1, (num_heads, -1)).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, N, Dh) -> (B, N, heads * Dh)."""
    return x.transpose(1, 2).flatten(2)


class SelfAttention(nn.Module):
    """Multi-head self-attention with RoPE on q and k."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rope: RopeTables) -> torch.Tensor:
        qkv = self.qkv(x).unflatten(-1, (3, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)                                   # (B, heads, N, Dh) each
        q = apply_rope(q, rope)
        k = apply_rope(k, rope)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(_merge_heads(out))


class CrossAttention(nn.Module):
    """Multi-head cross-attention: queries from x, keys/values from the other view's memory."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.projq = nn.Linear(dim, dim)
        self.projk = nn.Linear(dim, dim)
        self.projv = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, rope_q: RopeTables,
                rope_k: RopeTables) -> torch.Tensor:
        q = apply_rope(_split_heads(self.projq(x), self.num_heads), rope_q)
        k = apply_rope(_split_heads(self.projk(memory), self.num_heads), rope_k)
        v = _split_heads(self.projv(memory), self.num_heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(_merge_heads(out))


class Block(nn.Module):
    """ViT block: x + attn(norm1(x)), then x + mlp(norm2(x)) (encoder, ``dec_blocks_pc``)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = SelfAttention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, rope: RopeTables) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """CroCo decoder block: self-attention, cross-attention to ``norm_y(other)``, MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = SelfAttention(dim, num_heads)
        self.cross_attn = CrossAttention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.norm3 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm_y = layer_norm(dim)

    def forward(self, x: torch.Tensor, other: torch.Tensor, rope_x: RopeTables,
                rope_other: RopeTables) -> torch.Tensor:
        """Update view tokens ``x`` (B, N, C) attending to ``other`` (B, M, C)."""
        x = x + self.attn(self.norm1(x), rope_x)
        x = x + self.cross_attn(self.norm2(x), self.norm_y(other), rope_x, rope_other)
        return x + self.mlp(self.norm3(x))
