"""The Depth Anything V2 builder: a config (see :mod:`.config`) -> the network."""

from __future__ import annotations

from align3r_ros.networks.depth_anything.config import ConfigLike, resolve_config
from align3r_ros.networks.depth_anything.model import DepthAnythingV2Net


def build_depth_anything_v2(config: ConfigLike) -> DepthAnythingV2Net:
    """Build an (uninitialised-weights) :class:`DepthAnythingV2Net` in eval mode.

    Args:
        config: see :func:`~align3r_ros.networks.depth_anything.config.resolve_config`.

    Returns:
        The network; load weights with :func:`checkpoint.load_state_dict_strict`.
    """
    return DepthAnythingV2Net(resolve_config(config)).eval()
