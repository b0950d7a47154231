"""Sizes of one pairwise point-map network (the parsed, validated form of a config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple

from align3r_ros.errors import ConfigError
from align3r_ros.networks.pairwise.dpt_head import DptWidths

ALIGN3R = 'align3r'
DUST3R = 'dust3r'
ARCHITECTURES = (ALIGN3R, DUST3R)


@dataclass(frozen=True)
class PairwiseNetSpec:
    """Architecture and widths of :class:`PairwisePointMapNet`.

    Attributes:
        architecture: 'align3r' (with the point-map branch) or 'dust3r' (without).
        enc_embed_dim, enc_depth, enc_num_heads: ViT encoder (official 1024 / 24 / 16).
        dec_embed_dim, dec_depth, dec_num_heads: each of the two decoders (official 768 / 12 / 12).
        patch_size: pixels per patch side (16).
        mlp_ratio: MLP hidden width / token width (4).
        rope_base: RoPE frequency base (100 for 'RoPE100').
        dpt: DPT head widths (official 256 / 128 / (96, 192, 384, 768)).
    """

    architecture: str = ALIGN3R
    enc_embed_dim: int = 1024
    enc_depth: int = 24
    enc_num_heads: int = 16
    dec_embed_dim: int = 768
    dec_depth: int = 12
    dec_num_heads: int = 12
    patch_size: int = 16
    mlp_ratio: float = 4.0
    rope_base: float = 100.0
    dpt: DptWidths = field(default_factory=DptWidths)

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f'architecture must be one of {ARCHITECTURES}, '
                              f'got {self.architecture!r}')
        for name in ('enc', 'dec'):
            dim = getattr(self, f'{name}_embed_dim')
            heads = getattr(self, f'{name}_num_heads')
            if heads < 1 or dim % heads or (dim // heads) % 4:
                raise ConfigError(f'{name}_embed_dim={dim} must split into {name}_num_heads='
                                  f'{heads} heads of a width divisible by 4 (2-D RoPE)')
        if self.dec_depth < 4:
            raise ConfigError(f'dec_depth must be >= 4, got {self.dec_depth}')
        if self.has_pointmap_branch and self.num_pointmap_blocks < 0:
            raise ConfigError(f'Align3R needs dec_depth >= 4, got {self.dec_depth}')

    @property
    def has_pointmap_branch(self) -> bool:
        return self.architecture == ALIGN3R

    @property
    def num_pointmap_blocks(self) -> int:
        """ViT blocks in ``dec_blocks_pc`` (dec_depth // 2 - 2; 4 officially)."""
        return self.dec_depth // 2 - 2

    @property
    def num_injections(self) -> int:
        """Zero-convs / injection points (blocks + 1; 5 officially); 0 for DUSt3R."""
        return self.num_pointmap_blocks + 1 if self.has_pointmap_branch else 0

    @property
    def dpt_hooks(self) -> Tuple[int, int, int, int]:
        """Indices into [encoder output, decoder layer 1, ..., decoder layer D] read by DPT."""
        depth = self.dec_depth
        return (0, depth * 2 // 4, depth * 3 // 4, depth)

    @property
    def dpt_dim_tokens(self) -> Tuple[int, int, int, int]:
        return (self.enc_embed_dim, self.dec_embed_dim, self.dec_embed_dim, self.dec_embed_dim)
