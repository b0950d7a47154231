"""2-D rotary position embedding (CroCo "RoPE100"), spec §1.4.

Per attention head of width Dh the feature axis is split in two halves: the first half is
rotated by the patch *row*, the second by the patch *column*. Each half of width D = Dh/2 uses the
"rotate-half" pairing (element i pairs with element i + D/2) and the frequencies
base^(-2k/D), k = 0 ... D/2 - 1.

Patch positions are always the regular (row, col) grid of the patch embedding, so the cos/sin
tables depend only on (grid_h, grid_w, Dh); :class:`RotaryEmbedding2D` builds them once per grid
shape and keeps them (``tables``). When tracing for export, the tables are computed from the
positions inside the graph instead, so an exported graph keeps dynamic image sizes.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch

from align3r_ros.networks.pairwise.tracing import is_tracing

RopeTables = Tuple[torch.Tensor, torch.Tensor]


def tables_from_positions(pos: torch.Tensor, head_dim: int, base: float) -> RopeTables:
    """cos/sin tables for explicit positions.

    Args:
        pos: (..., N, 2) integer (row, col) patch positions.
        head_dim: Dh, width of one attention head (multiple of 4).
        base: frequency base (100 for "RoPE100").

    Returns:
        (cos, sin), each (..., N, Dh) float32, laid out [row half | col half], each half
        [freqs | freqs] (the rotate-half layout).
    """
    half = head_dim // 2
    exponent = torch.arange(0, half, 2, device=pos.device, dtype=torch.float32) / half
    inv_freq = 1.0 / (base ** exponent)                                  # (half/2,)
    angles = pos.to(torch.float32).unsqueeze(-1) * inv_freq               # (..., N, 2, half/2)
    angles = torch.cat((angles, angles), dim=-1).flatten(-2)              # (..., N, Dh)
    return angles.cos(), angles.sin()


def rotate_half_2d(x: torch.Tensor) -> torch.Tensor:
    """Rotate-half applied independently to the row half and the column half of ``x``.

    Args:
        x: (..., Dh). Viewed as [a | b | c | d] with four quarters of Dh/4.

    Returns:
        (..., Dh) equal to [-b | a | -d | c].
    """
    quarters = x.unflatten(-1, (2, 2, x.shape[-1] // 4))
    first, second = quarters.unbind(dim=-2)
    return torch.stack((-second, first), dim=-2).flatten(-3)


def apply_rope(x: torch.Tensor, tables: RopeTables) -> torch.Tensor:
    """Rotate queries or keys.

    Args:
        x: (B, heads, N, Dh).
        tables: (cos, sin) broadcastable to ``x`` ((N, Dh) or (B, 1, N, Dh)).
    """
    cos, sin = tables
    return x * cos.to(x.dtype) + rotate_half_2d(x) * sin.to(x.dtype)


class RotaryEmbedding2D:
    """Builds and caches RoPE tables per (grid_h, grid_w, head_dim, device).

    Not an ``nn.Module``: it holds no weights, and its cache must not enter the state dict.
    """

    def __init__(self, base: float = 100.0) -> None:
        self.base = float(base)
        self._cache: Dict[tuple, RopeTables] = {}

    def tables(self, pos: torch.Tensor, grid_hw: Tuple[int, int], head_dim: int) -> RopeTables:
        """Tables for tokens on the regular grid ``grid_hw``.

        Args:
            pos: (B, N, 2) integer (row, col) positions of that grid (used when tracing).
            grid_hw: (grid_h, grid_w) with grid_h * grid_w = N.
            head_dim: Dh.

        Returns:
            (cos, sin): (N, Dh) float32 in eager mode (cached), (B, 1, N, Dh) when tracing.
        """
        if is_tracing():
            cos, sin = tables_from_positions(pos, head_dim, self.base)
            return cos.unsqueeze(1), sin.unsqueeze(1)
        key = (int(grid_hw[0]), int(grid_hw[1]), int(head_dim), str(pos.device))
        cached = self._cache.get(key)
        if cached is None:
            grid = grid_positions(key[0], key[1], pos.device)
            cached = tables_from_positions(grid, head_dim, self.base)
            self._cache[key] = cached
        return cached

    def clear(self) -> None:
        """Drop every cached table (e.g. after moving the network to another device)."""
        self._cache.clear()


def grid_positions(grid_h: int, grid_w: int, device: torch.device | str = 'cpu') -> torch.Tensor:
    """(N, 2) int64 (row, col) positions of a grid, row-major (N = grid_h * grid_w)."""
    rows, cols = torch.meshgrid(torch.arange(grid_h, device=device),
                                torch.arange(grid_w, device=device), indexing='ij')
    return torch.stack((rows, cols), dim=-1).reshape(-1, 2)
