"""Strict loading of Depth Anything V2 checkpoints and architecture detection from key shapes.

The official releases ``depth_anything_v2_vit{s,b,l}.pth`` are plain state dicts (no wrapper
dict); they are read with ``torch.load(weights_only=True)`` (no arbitrary unpickling).
``.safetensors`` files with the same keys are accepted too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple, Union

import torch

from align3r_ros.errors import WeightsError
from align3r_ros.networks.depth_anything.config import (
    OFFICIAL_CONFIGS, ConfigLike, DepthAnythingV2Config, resolve_config)
from align3r_ros.networks.depth_anything.model import DepthAnythingV2Net
from align3r_ros.networks.checkpoint_file import load_weights_file

#: ViT width -> official encoder; read from ``pretrained.pos_embed`` (1, 1370, C).
_WIDTH_TO_ENCODER = {cfg.embed_dim: name for name, cfg in OFFICIAL_CONFIGS.items()}
_SIGNATURE_KEYS = ('pretrained.pos_embed', 'pretrained.patch_embed.proj.weight',
                   'depth_head.projects.0.weight', 'depth_head.scratch.output_conv2.2.weight')


def detect_variant(shapes: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
    """Recognise an official Depth Anything V2 state dict from its key shapes.

    Args:
        shapes: {key: shape} of a checkpoint (no tensors needed).

    Returns:
        'depth_anything_v2_vits' | 'depth_anything_v2_vitb' | 'depth_anything_v2_vitl', or
        None when the keys are not those of a Depth Anything V2 release.
    """
    if not all(key in shapes for key in _SIGNATURE_KEYS):
        return None
    pos = tuple(shapes['pretrained.pos_embed'])
    if len(pos) != 3 or pos[0] != 1:
        return None
    encoder = _WIDTH_TO_ENCODER.get(int(pos[2]))
    if encoder is None:
        return None
    cfg = OFFICIAL_CONFIGS[encoder]
    blocks = {key.split('.')[2] for key in shapes if key.startswith('pretrained.blocks.')}
    head = tuple(shapes['depth_head.projects.0.weight'])
    if len(blocks) != cfg.depth or head[:2] != (cfg.out_channels[0], cfg.embed_dim):
        return None
    return cfg.name


def expected_shapes(config: ConfigLike) -> Dict[str, Tuple[int, ...]]:
    """{key: shape} of the state dict of ``config``, built on the meta device (no memory)."""
    with torch.device('meta'):
        model = DepthAnythingV2Net(resolve_config(config))
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def read_state_dict(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """Tensors of a ``.pth`` (plain state dict, weights_only) or ``.safetensors`` file.

    Raises:
        WeightsError: missing, unreadable or not a state dict.
    """
    state = load_weights_file(path, 'Depth Anything V2 weights')
    if isinstance(state, Mapping) and 'model' in state and isinstance(state['model'], Mapping):
        state = state['model']
    if not isinstance(state, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f'{str(path)!r} is not a plain state dict of tensors')
    return dict(state)


def load_state_dict_strict(model: DepthAnythingV2Net, state: Mapping[str, torch.Tensor],
                           source: str = 'state dict') -> None:
    """Copy ``state`` into ``model``; every key and shape must match exactly.

    Raises:
        WeightsError: naming the first missing / unexpected / mis-shaped keys.
    """
    wanted = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    given = {key: tuple(value.shape) for key, value in state.items()}
    missing = sorted(set(wanted) - set(given))
    unexpected = sorted(set(given) - set(wanted))
    mismatched = sorted(k for k in set(wanted) & set(given) if wanted[k] != given[k])
    if missing or unexpected or mismatched:
        details = [f'{len(missing)} missing {missing[:5]}' if missing else '',
                   f'{len(unexpected)} unexpected {unexpected[:5]}' if unexpected else '',
                   ', '.join(f'{k}: {given[k]} != {wanted[k]}' for k in mismatched[:5])]
        raise WeightsError(f'{source} does not fit {model.cfg.name}: '
                           + '; '.join(d for d in details if d))
    model.load_state_dict(state, strict=True)


def load_depth_anything_v2(path: Union[str, Path], config: Optional[ConfigLike] = None,
                           device: Union[str, torch.device] = 'cpu') -> DepthAnythingV2Net:
    """Build the network a checkpoint describes and load it strictly.

    Args:
        path: ``depth_anything_v2_vit{s,b,l}.pth`` or a ``.safetensors`` with the same keys.
        config: expected configuration (name, mapping or config); None = detect from shapes.
        device: where the loaded model lives.

    Raises:
        WeightsError: unreadable file, unknown architecture, or keys/shapes not matching
            ``config`` (e.g. a ViT-S file with ``config='vitl'``).
    """
    state = read_state_dict(path)
    variant = detect_variant({k: tuple(v.shape) for k, v in state.items()})
    if config is None:
        if variant is None:
            raise WeightsError(f'{str(path)!r} is not a Depth Anything V2 ViT-S/B/L checkpoint')
        cfg: DepthAnythingV2Config = resolve_config(variant)
    else:
        cfg = resolve_config(config)
        if variant is not None and variant != cfg.name:
            raise WeightsError(f'{str(path)!r} holds {variant} weights but {cfg.name} was '
                               'requested (prior.model)')
    model = DepthAnythingV2Net(cfg)
    load_state_dict_strict(model, state, source=repr(str(path)))
    return model.to(device).eval()
