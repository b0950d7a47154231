"""Per-frame encoder output of the pairwise network, cacheable and batchable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import torch

from align3r_ros.errors import InputError


@dataclass(frozen=True)
class FrameEncoding:
    """What :meth:`PairwisePointMapNet.encode` computes once per frame.

    Everything here depends on one frame only (its image and, for Align3R, its prior), so it can
    be cached and reused by every pair the frame appears in.

    Attributes:
        tokens: (B, N, C_enc) encoder tokens after ``enc_norm``; N = (H/16)(W/16), row-major.
        pos: (B, N, 2) int64 (row, col) patch positions (RoPE).
        injections: Align3R: (B, K, N, C_dec) with K = 5: what zero-conv k adds to the decoder
            tokens of this view at injection point k (k = 0: decoder input; k >= 1: output of
            decoder layer k). None for DUSt3R.
        image_hw: (H, W) of the input images, pixels.
    """

    tokens: torch.Tensor
    pos: torch.Tensor
    injections: Optional[torch.Tensor]
    image_hw: Tuple[int, int]

    @property
    def batch_size(self) -> int:
        return int(self.tokens.shape[0])

    def select(self, index: Union[int, Sequence[int], torch.Tensor]) -> 'FrameEncoding':
        """Items ``index`` along the batch axis (an int keeps the axis, with size 1)."""
        if isinstance(index, int):
            index = [index]
        if not isinstance(index, torch.Tensor):
            index = torch.as_tensor(list(index), dtype=torch.long)
        index = index.to(self.tokens.device)
        return FrameEncoding(
            tokens=self.tokens.index_select(0, index),
            pos=self.pos.index_select(0, index),
            injections=None if self.injections is None
            else self.injections.index_select(0, index),
            image_hw=self.image_hw)

    def to(self, device: Union[str, torch.device]) -> 'FrameEncoding':
        return FrameEncoding(
            tokens=self.tokens.to(device), pos=self.pos.to(device),
            injections=None if self.injections is None else self.injections.to(device),
            image_hw=self.image_hw)

    @staticmethod
    def concat(encodings: Sequence['FrameEncoding']) -> 'FrameEncoding':
        """Stack encodings of frames of one size along the batch axis."""
        if not encodings:
            raise InputError('cannot concatenate an empty list of frame encodings')
        sizes = {enc.image_hw for enc in encodings}
        if len(sizes) != 1:
            raise InputError(f'frame encodings of different image sizes {sorted(sizes)} '
                             f'cannot be batched')
        has_inj = {enc.injections is not None for enc in encodings}
        if len(has_inj) != 1:
            raise InputError('cannot batch encodings with and without point-map injections')
        if len(encodings) == 1:
            return encodings[0]
        return FrameEncoding(
            tokens=torch.cat([enc.tokens for enc in encodings]),
            pos=torch.cat([enc.pos for enc in encodings]),
            injections=None if encodings[0].injections is None
            else torch.cat([enc.injections for enc in encodings]),
            image_hw=encodings[0].image_hw)
