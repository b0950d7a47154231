"""Output activations of the DPT heads (spec §1.3 step 4, depth_mode exp, conf_mode exp)."""

from __future__ import annotations

from typing import Tuple

import torch

from align3r_ros.networks.pairwise.tracing import is_tracing


def raw_to_points_and_confidence(raw: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Turn a head's raw output into a point map and a confidence.

    Args:
        raw: (B, 4, H, W): channels 0-2 the unnormalised point v, channel 3 the confidence logit.

    Returns:
        pts3d (B, H, W, 3) = v / max(|v|, 1e-8) * expm1(|v|) (arbitrary units, camera frame of
        view 1) and conf (B, H, W) = 1 + exp(logit) (>= 1).
    """
    out = raw.permute(0, 2, 3, 1)
    vec = out[..., :3]
    dist = vec.norm(dim=-1, keepdim=True)
    # ONNX has no expm1; exp - 1 differs by < 1e-7 absolute, far below any tolerance used.
    growth = torch.exp(dist) - 1.0 if is_tracing() else torch.expm1(dist)
    pts3d = vec / dist.clamp(min=1e-8) * growth
    conf = 1.0 + torch.exp(out[..., 3])
    return pts3d, conf
