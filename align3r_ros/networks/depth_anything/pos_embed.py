"""DINOv2 position-embedding resampling as two bicubic matrices (export-friendly).

The reference resizes the stored 37 x 37 grid with ``F.interpolate(mode='bicubic',
align_corners=False, scale_factor=(n + 0.1) / 37)``: PyTorch then samples source position
``(i + 0.5) / scale - 0.5`` with the cubic-convolution kernel (A = -0.75) over 4 taps whose indices
are clamped to the grid (replicated border), and keeps the grid untouched for a square 37 x 37
input. Writing this as ``R_h @ grid @ R_w^T`` gives the same numbers (within float rounding) while
staying traceable with *symbolic* grid sizes, so the ONNX export accepts any input size.
"""

from __future__ import annotations

import torch

CUBIC_A = -0.75


def _cubic_weights(t: torch.Tensor) -> torch.Tensor:
    """(n,) fractional offsets -> (n, 4) weights of taps floor-1 .. floor+2 (PyTorch's order)."""
    a = CUBIC_A

    def near(x: torch.Tensor) -> torch.Tensor:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: torch.Tensor) -> torch.Tensor:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    rest = 1 - t  # same operation order as PyTorch's get_cubic_upsample_coefficients
    return torch.stack([far(t + 1), near(t), near(rest), far(rest + 1)], dim=1)


def bicubic_matrix(out_size: int, in_size: int, offset: float, keep: torch.Tensor
                   ) -> torch.Tensor:
    """(out_size, in_size) float32 matrix resampling one axis like the reference.

    Args:
        out_size: wanted length n (a Python int, or a symbolic int while exporting).
        in_size: stored grid length (37).
        offset: the scale-factor kludge (0.1): scale factor = (n + offset) / in_size.
        keep: 0-d float tensor, 1.0 when the grid is used verbatim (then the matrix is the
            identity: sampling exactly at integer positions gives cubic weights (0, 1, 0, 0)).
    """
    dst = torch.arange(out_size, dtype=torch.float32)
    # The step 1 / scale_factor is formed in float64 and rounded once, like PyTorch does.
    length = torch.scalar_tensor(out_size, dtype=torch.float64)
    step = (1.0 / ((length + offset) / in_size)).to(torch.float32)
    resampled = step * (dst + 0.5) - 0.5
    src = keep * dst + (1.0 - keep) * resampled
    base = torch.floor(src)
    weights = _cubic_weights(src - base)                                   # (n, 4)
    taps = (base.to(torch.int64)[:, None] + torch.arange(-1, 3)[None, :]).clamp(0, in_size - 1)
    one_hot = (taps[:, :, None] == torch.arange(in_size)[None, None, :]).to(torch.float32)
    return (one_hot * weights[:, :, None]).sum(1)


def resample_pos_grid(grid: torch.Tensor, grid_h: int, grid_w: int,
                      offset: float) -> torch.Tensor:
    """(S, S, C) stored grid -> (grid_h, grid_w, C), as the reference's bicubic resize.

    The reference skips resampling only when *both* sides equal S (square native input).
    """
    size = grid.shape[0]
    keep = ((torch.scalar_tensor(grid_h) == size)
            & (torch.scalar_tensor(grid_w) == size)).to(torch.float32)
    rows = bicubic_matrix(grid_h, size, offset, keep).to(grid.dtype)
    cols = bicubic_matrix(grid_w, size, offset, keep).to(grid.dtype)
    return torch.einsum('hi,ijc,wj->hwc', rows, grid, cols)
