"""Depth Pro (Bochkovskii et al., "Depth Pro: Sharp Monocular Metric Depth in Less Than a
Second", Apple ml-depth-pro), re-implemented weight-compatibly.

Composition root only: pyramid encoder -> multi-resolution decoder -> depth head (canonical
inverse depth at 1536 x 1536) and the FOV head; pre/post-processing live in :mod:`.infer`.
Sub-module names are the official state_dict prefixes (``encoder.``, ``decoder.``, ``head.``,
``fov.``).
"""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from align3r_ros.errors import InputError
from align3r_ros.networks.depth_pro.config import DepthProConfig, NETWORK_SIZE
from align3r_ros.networks.depth_pro.decoder import MultiresConvDecoder
from align3r_ros.networks.depth_pro.encoder import DepthProEncoder
from align3r_ros.networks.depth_pro.fov import FOVNetwork
from align3r_ros.networks.depth_pro.infer import (canonical_to_prediction, check_image_tensor,
                                                  DepthProPrediction, focal_tensor)


def depth_head(dim: int, hidden_dim: int) -> nn.Sequential:
    """Decoder features (B, D, 768, 768) -> canonical inverse depth (B, 1, 1536, 1536), >= 0.

    Keys ``head.0`` conv3x3 D -> D/2, ``head.1`` k2 s2 transposed conv (biased), ``head.2``
    conv3x3 D/2 -> 32, ReLU, ``head.4`` conv1x1 32 -> 1, ReLU.
    """
    return nn.Sequential(
        nn.Conv2d(dim, dim // 2, kernel_size=3, stride=1, padding=1),
        nn.ConvTranspose2d(dim // 2, dim // 2, kernel_size=2, stride=2, padding=0, bias=True),
        nn.Conv2d(dim // 2, hidden_dim, kernel_size=3, stride=1, padding=1),
        nn.ReLU(True),
        nn.Conv2d(hidden_dim, 1, kernel_size=1, stride=1, padding=0),
        nn.ReLU(),
    )


class DepthPro(nn.Module):
    """Monocular metric depth and field of view from one RGB image."""

    def __init__(self, config: DepthProConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.decoder_features
        self.encoder = DepthProEncoder(config)
        self.decoder = MultiresConvDecoder([dim, *config.encoder_feature_dims], dim)
        self.head = depth_head(dim, config.head_hidden_dim)
        self.fov = FOVNetwork(config)

    def forward(self, x: Tensor) -> tuple:
        """Network at its native resolution.

        Args:
            x: (B, 3, 1536, 1536) RGB normalised to [-1, 1].

        Returns:
            (canonical inverse depth (B, 1, 1536, 1536) = inverse depth [1/m] * f_px / W,
            horizontal field of view (B, 1, 1, 1) in degrees).
        """
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, NETWORK_SIZE, NETWORK_SIZE):
            raise InputError(f'DepthPro.forward needs (B, 3, {NETWORK_SIZE}, {NETWORK_SIZE}), '
                             f'got {tuple(x.shape)}')
        encodings = self.encoder(x)
        features, lowres = self.decoder(encodings)
        canonical_inverse_depth = self.head(features)
        fov_deg = self.fov(x, lowres.detach())
        return canonical_inverse_depth, fov_deg

    @torch.inference_mode()
    def infer(self, image: Tensor,
              f_px: Optional[Union[float, Tensor]] = None) -> DepthProPrediction:
        """Metric depth at the input resolution (official ``DepthPro.infer``).

        The image is stretched (bilinear, align_corners=False, aspect ratio not kept) to 1536 x
        1536; the inverse depth is rescaled by W / f_px and resized back to (H, W); depth =
        1 / clamp(inverse depth, 1e-4, 1e4).

        Args:
            image: (3, H, W) or (B, 3, H, W) RGB in [-1, 1] (see ``preprocess_rgb``); moved to
                the model's device and dtype.
            f_px: horizontal focal length in pixels at (H, W) when the camera knows it (scalar
                or (B,)); None estimates it from the FOV head as 0.5 W / tan(FOV / 2).

        Returns:
            DepthProPrediction; ``depth`` is (H, W) for a 3-D input and (B, H, W) for a 4-D one.

        Raises:
            InputError: wrong shape, non-finite pixels, or a non-finite / non-positive f_px.
            BackendError: the network produced non-finite values (corrupt weights).
        """
        x = check_image_tensor(image)
        batched = image.ndim == 4
        focal = None if f_px is None else focal_tensor(f_px, x.shape[0])
        parameter = next(self.parameters())
        x = x.to(device=parameter.device, dtype=parameter.dtype)
        height, width = x.shape[-2:]
        if (height, width) != (NETWORK_SIZE, NETWORK_SIZE):
            x = F.interpolate(x, size=(NETWORK_SIZE, NETWORK_SIZE), mode='bilinear',
                              align_corners=False)
        canonical_inverse_depth, fov_deg = self.forward(x)
        prediction = canonical_to_prediction(canonical_inverse_depth, fov_deg, (height, width),
                                             focal)
        if batched:
            return prediction
        return DepthProPrediction(depth=prediction.depth[0],
                                  focallength_px=prediction.focallength_px[0])
