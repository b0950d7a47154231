"""Input contracts of the pairwise network: named InputErrors instead of shape tracebacks."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from align3r_ros.errors import InputError


def check_images(img: torch.Tensor, name: str, patch_size: int) -> Tuple[int, int, int]:
    """Validate a batch of normalised images.

    Args:
        img: (B, 3, H, W) float, H and W positive multiples of ``patch_size``.
        name: argument name used in the error message.

    Returns:
        (B, H, W).

    Raises:
        InputError: not a tensor, wrong rank, not 3 channels, empty, size not a multiple of 16.
    """
    if not isinstance(img, torch.Tensor):
        raise InputError(f'{name} must be a torch.Tensor (B, 3, H, W), got {type(img).__name__}')
    if img.dim() != 4:
        raise InputError(f'{name} must have shape (B, 3, H, W), got {tuple(img.shape)}')
    batch, chans, height, width = (int(v) for v in img.shape)
    if batch == 0 or height == 0 or width == 0:
        raise InputError(f'{name} is empty: shape {tuple(img.shape)}')
    if chans != 3:
        raise InputError(f'{name} must have 3 (RGB) channels, got {chans} '
                         f'(shape {tuple(img.shape)})')
    if height % patch_size or width % patch_size:
        raise InputError(f'{name} size {height}x{width} (HxW) is not a multiple of '
                         f'{patch_size}; preprocess frames first')
    if not img.is_floating_point():
        raise InputError(f'{name} must be floating point (normalised to [-1, 1]), '
                         f'got {img.dtype}')
    return batch, height, width


def check_pointmap(pointmap: Optional[torch.Tensor], name: str,
                   expected: Tuple[int, int, int]) -> torch.Tensor:
    """Validate a normalised monocular point map for the Align3R branch.

    Args:
        pointmap: (B, H, W, 3) float, finite.
        expected: (B, H, W) of the matching images.

    Raises:
        InputError: missing, wrong shape or non-finite values.
    """
    if pointmap is None:
        raise InputError(f'{name} is required by the Align3R network (the point map of the '
                         f'monocular prior), got None')
    if not isinstance(pointmap, torch.Tensor):
        raise InputError(f'{name} must be a torch.Tensor (B, H, W, 3), '
                         f'got {type(pointmap).__name__}')
    want = (*expected, 3)
    if tuple(pointmap.shape) != want:
        raise InputError(f'{name} must have shape {want} (B, H, W, 3) to match the images, '
                         f'got {tuple(pointmap.shape)}')
    if not pointmap.is_floating_point():
        raise InputError(f'{name} must be floating point, got {pointmap.dtype}')
    finite = torch.isfinite(pointmap)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise InputError(f'{name} has {bad} non-finite (NaN/inf) values')
    return pointmap


def check_same_size(hw1: Tuple[int, ...], hw2: Tuple[int, ...], what: str) -> None:
    """Both views of a pair must share one size (and batch)."""
    if tuple(hw1) != tuple(hw2):
        raise InputError(f'{what} differ: {tuple(hw1)} vs {tuple(hw2)}; both views of a pair '
                         f'must have the same (B, H, W)')
