"""Depth Pro's multi-resolution convolutional decoder (official ``MultiresConvDecoder``).

DPT-style fusion of the five encoder maps, from the 48 x 48 map up to 768 x 768:
``f = convs[4](enc4)`` (kept as ``lowres`` for the FOV head), ``f = fusions[4](f)``, then
``f = fusions[i](f, convs[i](enc_i))`` for i = 3, 2, 1, 0.
"""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn


class ResidualBlock(nn.Module):
    """``x + conv3x3(relu(conv3x3(relu(x))))``; keys ``residual.1`` / ``residual.3`` (biased)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=True),
            nn.ReLU(inplace=False),
            nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual(x)


class FeatureFusionBlock(nn.Module):
    """``x (+ resnet1(skip))`` -> resnet2 -> [k2 s2 transposed conv, no bias] -> 1x1 conv.

    ``resnet1`` always exists (its weights are in the checkpoint) even where no skip is passed.
    """

    def __init__(self, dim: int, deconv: bool) -> None:
        super().__init__()
        self.resnet1 = ResidualBlock(dim)
        self.resnet2 = ResidualBlock(dim)
        self.deconv: Optional[nn.Module] = None
        if deconv:
            self.deconv = nn.ConvTranspose2d(dim, dim, kernel_size=2, stride=2, bias=False)
        self.out_conv = nn.Conv2d(dim, dim, kernel_size=1, bias=True)

    def forward(self, x: Tensor, skip: Optional[Tensor] = None) -> Tensor:
        if skip is not None:
            x = x + self.resnet1(skip)
        x = self.resnet2(x)
        if self.deconv is not None:
            x = self.deconv(x)
        return self.out_conv(x)


class MultiresConvDecoder(nn.Module):
    """Fuses encoder maps of widths ``dims_encoder`` (D, dims0, dims1, dims2, dims3) into D.

    ``convs[0]`` is the identity (its input already has width D, so it has no weights);
    ``convs[i > 0]`` are 3x3 convs without bias.
    """

    def __init__(self, dims_encoder: Sequence[int], dim_decoder: int) -> None:
        super().__init__()
        convs = [nn.Identity()]
        for dim in dims_encoder[1:]:
            convs.append(nn.Conv2d(dim, dim_decoder, kernel_size=3, padding=1, bias=False))
        self.convs = nn.ModuleList(convs)
        self.fusions = nn.ModuleList(
            [FeatureFusionBlock(dim_decoder, deconv=index != 0)
             for index in range(len(dims_encoder))])

    def forward(self, encodings: Sequence[Tensor]) -> tuple:
        """Encoder maps (highest resolution first) -> (features (B, D, 768, 768),
        lowres (B, D, 48, 48) = ``convs[-1](encodings[-1])``, the FOV-head input)."""
        last = len(encodings) - 1
        features = self.convs[last](encodings[last])
        lowres = features
        features = self.fusions[last](features)
        for index in range(last - 1, -1, -1):
            features = self.fusions[index](features, self.convs[index](encodings[index]))
        return features, lowres
