"""Builder of Depth Pro from a configuration name, a config.json mapping or a DepthProConfig."""

from __future__ import annotations

from typing import Optional, Union

import torch

from align3r_ros.networks.depth_pro.config import ConfigLike, resolve_config
from align3r_ros.networks.depth_pro.model import DepthPro


def build_depth_pro(config: ConfigLike = 'depth_pro',
                    device: Optional[Union[str, torch.device]] = None) -> DepthPro:
    """A DepthPro in eval mode with freshly initialised (untrained) weights.

    Args:
        config: 'depth_pro' (the released model, 952M parameters, 3.8 GB in fp32), the content
            of a fixture's ``config.json`` as a mapping, or a DepthProConfig.
        device: where to allocate the parameters; 'meta' builds the structure without memory.

    Raises:
        ConfigError: unknown name or unsupported configuration values.
    """
    resolved = resolve_config(config)
    with torch.device(device if device is not None else 'cpu'):
        model = DepthPro(resolved)
    return model.eval()
