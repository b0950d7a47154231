"""DPT head of DUSt3R / Align3R (``downstream_head{1,2}``), spec §1.3 step 4.

Reads four token maps (hooks [0, D/2, 3D/4, D] of the list [encoder output, decoder layer 1 ...
decoder layer D]), reassembles them to 1/4, 1/8, 1/16 and 1/32 resolution, fuses them with
RefineNet blocks (bilinear x2 upsampling, align_corners=True) and outputs (B, 4, H, W): xyz and
a confidence logit. The caller runs it in fp32 with autocast disabled.

Parameter names follow the official layout: ``dpt.act_postprocess.{0..3}``,
``dpt.scratch.layer{1..4}_rn`` (+ the alias list ``dpt.scratch.layer_rn.{0..3}``, the same modules,
which the official state dict also contains), ``dpt.scratch.refinenet{1..4}``, ``dpt.head``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (conventional name)

from align3r_ros.networks.pairwise.tracing import is_tracing

_CHANNELS_LAST = torch.channels_last
OFFICIAL_FEATURE_DIM = 256
OFFICIAL_LAST_DIM = 128
OFFICIAL_LAYER_DIMS = (96, 192, 384, 768)


@dataclass(frozen=True)
class DptWidths:
    """Channel widths of a DPT head.

    Attributes:
        feature_dim: width of the fusion path (official 256).
        last_dim: width of the last hidden conv (official 128).
        layer_dims: widths after reassembly at 1/4, 1/8, 1/16, 1/32 (official 96/192/384/768).
    """

    feature_dim: int = OFFICIAL_FEATURE_DIM
    last_dim: int = OFFICIAL_LAST_DIM
    layer_dims: Tuple[int, int, int, int] = OFFICIAL_LAYER_DIMS


class Upsample2x(nn.Module):
    """Bilinear x2 upsampling with align_corners=True (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode='bilinear', align_corners=True)


class ResidualConvUnit(nn.Module):
    """x + conv2(relu(conv1(relu(x)))), 3x3 convs with bias."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """RefineNet fusion: (path [+ rcu1(skip)]) -> rcu2 -> upsample x2 -> 1x1 out_conv."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(dim, dim, 1)
        self.resConfUnit1 = ResidualConvUnit(dim)  # noqa: N815 (official parameter name)
        self.resConfUnit2 = ResidualConvUnit(dim)  # noqa: N815 (official parameter name)
        self.upsample = Upsample2x()

    def forward(self, path: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            path = path + self.resConfUnit1(skip)
        return self.out_conv(self.upsample(self.resConfUnit2(path)))


class Scratch(nn.Module):
    """``scratch``: per-level 3x3 projections to ``feature_dim`` and the four fusion blocks."""

    def __init__(self, widths: DptWidths) -> None:
        super().__init__()
        dims = widths.layer_dims
        feat = widths.feature_dim
        self.layer1_rn = nn.Conv2d(dims[0], feat, 3, padding=1, bias=False)
        self.layer2_rn = nn.Conv2d(dims[1], feat, 3, padding=1, bias=False)
        self.layer3_rn = nn.Conv2d(dims[2], feat, 3, padding=1, bias=False)
        self.layer4_rn = nn.Conv2d(dims[3], feat, 3, padding=1, bias=False)
        # The official module also registers the four convs as a list; its state dict therefore
        # holds both names for the same tensors (the 8 alias keys).
        self.layer_rn = nn.ModuleList(
            [self.layer1_rn, self.layer2_rn, self.layer3_rn, self.layer4_rn])
        self.refinenet1 = FusionBlock(feat)
        self.refinenet2 = FusionBlock(feat)
        self.refinenet3 = FusionBlock(feat)
        self.refinenet4 = FusionBlock(feat)


def _reassemble_blocks(dim_tokens: Sequence[int], widths: DptWidths) -> nn.ModuleList:
    dims = widths.layer_dims
    return nn.ModuleList([
        nn.Sequential(nn.Conv2d(dim_tokens[0], dims[0], 1),
                      nn.ConvTranspose2d(dims[0], dims[0], kernel_size=4, stride=4)),
        nn.Sequential(nn.Conv2d(dim_tokens[1], dims[1], 1),
                      nn.ConvTranspose2d(dims[1], dims[1], kernel_size=2, stride=2)),
        nn.Sequential(nn.Conv2d(dim_tokens[2], dims[2], 1)),
        nn.Sequential(nn.Conv2d(dim_tokens[3], dims[3], 1),
                      nn.Conv2d(dims[3], dims[3], 3, stride=2, padding=1)),
    ])


class DptAdapter(nn.Module):
    """The ``dpt`` module: reassembly, scratch (fusion) and output head."""

    def __init__(self, dim_tokens: Sequence[int], widths: DptWidths, num_channels: int = 4,
                 patch_size: int = 16) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.scratch = Scratch(widths)
        feat = widths.feature_dim
        self.head = nn.Sequential(
            nn.Conv2d(feat, feat // 2, 3, padding=1),
            Upsample2x(),
            nn.Conv2d(feat // 2, widths.last_dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(widths.last_dim, num_channels, 1),
        )
        self.act_postprocess = _reassemble_blocks(dim_tokens, widths)

    def forward(self, tokens: Sequence[torch.Tensor], image_hw: Tuple[int, int]) -> torch.Tensor:
        """Dense prediction.

        Args:
            tokens: the four hooked token maps, each (B, N, C_i), row-major over the patch grid.
            image_hw: (H, W) of the input images.

        Returns:
            (B, num_channels, H, W).
        """
        grid_h = image_hw[0] // self.patch_size
        grid_w = image_hw[1] // self.patch_size
        levels = []
        for idx, tok in enumerate(tokens):
            fmap = tok.transpose(1, 2).reshape(tok.shape[0], tok.shape[2], grid_h, grid_w)
            # channels-last convolutions are ~8 % cheaper on CPU (oneDNN); same numbers.
            level = self.act_postprocess[idx](fmap.contiguous(memory_format=_CHANNELS_LAST))
            levels.append(self.scratch.layer_rn[idx](
                level.contiguous(memory_format=_CHANNELS_LAST)))
        path = self.scratch.refinenet4(levels[3])
        # level 4 is ceil(gh/2): its x2 upsampling can exceed level 3 by one cell; crop it.
        path = _crop_to(path, levels[2])
        path = self.scratch.refinenet3(path, levels[2])
        path = self.scratch.refinenet2(path, levels[1])
        path = self.scratch.refinenet1(path, levels[0])
        return self.head(path)


def _crop_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """x[:, :, :h, :w] with (h, w) of ``like``; via index_select when tracing so that an exported
    graph keeps the crop size dynamic (a traced slice would freeze it)."""
    if not is_tracing():
        return x[:, :, :like.shape[2], :like.shape[3]]
    rows = torch.arange(like.shape[2], device=x.device)
    cols = torch.arange(like.shape[3], device=x.device)
    return x.index_select(2, rows).index_select(3, cols)


class DptHead(nn.Module):
    """``downstream_head{k}``: picks the hooked layers and runs the DPT adapter."""

    def __init__(self, hooks: Sequence[int], dim_tokens: Sequence[int], widths: DptWidths,
                 num_channels: int = 4, patch_size: int = 16) -> None:
        super().__init__()
        self.hooks = tuple(int(h) for h in hooks)
        self.dpt = DptAdapter(dim_tokens, widths, num_channels, patch_size)

    def forward(self, layer_tokens: Sequence[torch.Tensor],
                image_hw: Tuple[int, int]) -> torch.Tensor:
        """(B, 4, H, W) raw output from the list [encoder output, decoder layer 1, ...]."""
        return self.dpt([layer_tokens[h] for h in self.hooks], image_hw)
