"""DPT head of Depth Anything V2 (state-dict prefix ``depth_head.``).

Four ViT token maps -> projections to four resolutions (x4, x2, x1, x1/2 of the patch grid) ->
RefineNet-style fusion from coarse to fine -> a conv stack ending in ReLU: one non-negative
channel at the input resolution (relative disparity, arbitrary scale and shift).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from align3r_ros.networks.depth_anything.config import DepthAnythingV2Config


class ResidualConvUnit(nn.Module):
    """x + conv2(relu(conv1(relu(x)))), optional BatchNorm after each conv."""

    def __init__(self, features: int, use_bn: bool) -> None:
        super().__init__()
        self.use_bn = use_bn
        self.conv1 = nn.Conv2d(features, features, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(features, features, 3, 1, 1, bias=True)
        if use_bn:
            self.bn1 = nn.BatchNorm2d(features)
            self.bn2 = nn.BatchNorm2d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(x))
        if self.use_bn:
            out = self.bn1(out)
        out = self.conv2(F.relu(out))
        if self.use_bn:
            out = self.bn2(out)
        return out + x


class FeatureFusionBlock(nn.Module):
    """Fuse a coarser path with a skip level, upsample (bilinear, align_corners), 1x1 conv."""

    def __init__(self, features: int, use_bn: bool) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1, 1, 0, bias=True)
        self.resConfUnit1 = ResidualConvUnit(features, use_bn)
        self.resConfUnit2 = ResidualConvUnit(features, use_bn)

    def forward(self, path: torch.Tensor, skip: Optional[torch.Tensor] = None,
                size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        if skip is not None:
            path = path + self.resConfUnit1(skip)
        path = self.resConfUnit2(path)
        if size is None:
            path = F.interpolate(path, scale_factor=2.0, mode='bilinear', align_corners=True)
        else:
            path = F.interpolate(path, size=size, mode='bilinear', align_corners=True)
        return self.out_conv(path)


class Scratch(nn.Module):
    """Container keeping the reference's ``scratch.*`` key names."""

    def __init__(self, cfg: DepthAnythingV2Config) -> None:
        super().__init__()
        feat = cfg.features
        oc = cfg.out_channels
        self.layer1_rn = nn.Conv2d(oc[0], feat, 3, 1, 1, bias=False)
        self.layer2_rn = nn.Conv2d(oc[1], feat, 3, 1, 1, bias=False)
        self.layer3_rn = nn.Conv2d(oc[2], feat, 3, 1, 1, bias=False)
        self.layer4_rn = nn.Conv2d(oc[3], feat, 3, 1, 1, bias=False)
        self.refinenet1 = FeatureFusionBlock(feat, cfg.use_bn)
        self.refinenet2 = FeatureFusionBlock(feat, cfg.use_bn)
        self.refinenet3 = FeatureFusionBlock(feat, cfg.use_bn)
        self.refinenet4 = FeatureFusionBlock(feat, cfg.use_bn)
        self.output_conv1 = nn.Conv2d(feat, feat // 2, 3, 1, 1)
        self.output_conv2 = nn.Sequential(
            nn.Conv2d(feat // 2, cfg.head_features_2, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(cfg.head_features_2, 1, 1, 1, 0),
            nn.ReLU(),
        )


class DisparityDPTHead(nn.Module):
    """Dense head: four token maps (B, N, C) on a gh x gw grid -> (B, 1, 14 gh, 14 gw)."""

    def __init__(self, cfg: DepthAnythingV2Config) -> None:
        super().__init__()
        dim = cfg.embed_dim
        oc = cfg.out_channels
        self.patch_size = cfg.patch_size
        self.use_clstoken = cfg.use_clstoken
        self.projects = nn.ModuleList(nn.Conv2d(dim, c, 1, 1, 0) for c in oc)
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(oc[0], oc[0], kernel_size=4, stride=4, padding=0),
            nn.ConvTranspose2d(oc[1], oc[1], kernel_size=2, stride=2, padding=0),
            nn.Identity(),
            nn.Conv2d(oc[3], oc[3], kernel_size=3, stride=2, padding=1),
        ])
        if cfg.use_clstoken:
            self.readout_projects = nn.ModuleList(
                nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU()) for _ in oc)
        self.scratch = Scratch(cfg)

    def forward(self, layers: Sequence[Tuple[torch.Tensor, torch.Tensor]], grid_h: int,
                grid_w: int) -> torch.Tensor:
        """Args: layers: 4 x (patch tokens (B, gh*gw, C), cls token (B, C)). Returns (B,1,H,W)."""
        levels = []
        for index, (tokens, cls_token) in enumerate(layers):
            if self.use_clstoken:
                readout = cls_token.unsqueeze(1).expand_as(tokens)
                tokens = self.readout_projects[index](torch.cat((tokens, readout), -1))
            x = tokens.permute(0, 2, 1).reshape(tokens.shape[0], tokens.shape[-1], grid_h, grid_w)
            levels.append(self.resize_layers[index](self.projects[index](x)))
        s = self.scratch
        l1, l2, l3, l4 = (s.layer1_rn(levels[0]), s.layer2_rn(levels[1]),
                          s.layer3_rn(levels[2]), s.layer4_rn(levels[3]))
        path = s.refinenet4(l4, size=tuple(l3.shape[2:]))
        path = s.refinenet3(path, l3, size=tuple(l2.shape[2:]))
        path = s.refinenet2(path, l2, size=tuple(l1.shape[2:]))
        path = s.refinenet1(path, l1)
        out = s.output_conv1(path)
        out = F.interpolate(out, size=(grid_h * self.patch_size, grid_w * self.patch_size),
                            mode='bilinear', align_corners=True)
        return s.output_conv2(out)
