"""Architecture sizes of Depth Pro (Apple ml-depth-pro) as frozen dataclasses.

Only widths are configurable. The pyramid geometry (1536-px network input, 384-px windows, 5x5 +
3x3 + 1 windows, merge paddings 3 / 6 tokens, hook blocks 5 and 11) is fixed by the official code
(spec.md §11.1) and lives in :mod:`.encoder` as constants; a configuration that states a different
geometry is rejected rather than silently ignored.

Stdlib only: torch is not imported here, so configurations can be parsed without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union

from align3r_ros.errors import ConfigError

#: Network input side in pixels (4 x the ViT input), official ``img_size`` 1536.
NETWORK_SIZE = 1536
#: ViT input side and patch size in pixels; 384 / 16 = 24 tokens per side.
VIT_IMAGE_SIZE = 384
VIT_PATCH_SIZE = 16
#: The name of the official (full-size) configuration.
OFFICIAL_NAME = 'depth_pro'


@dataclass(frozen=True)
class ViTConfig:
    """One DINOv2-style ViT (timm ``vit_large_patch14_dinov2`` at 384 px / patch 16).

    Attributes:
        embed_dim: token width C (1024 for ViT-L).
        depth: number of transformer blocks (24).
        num_heads: attention heads (16); head_dim = embed_dim / num_heads.
        mlp_hidden_dim: hidden width of the MLP (4 x embed_dim).
        layer_norm_eps: LayerNorm epsilon (1e-6 in timm's DINOv2).
    """

    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_hidden_dim: int = 4096
    layer_norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        for name in ('embed_dim', 'depth', 'num_heads', 'mlp_hidden_dim'):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f'ViTConfig.{name} must be a positive int, got {value!r}')
        if self.embed_dim % self.num_heads:
            raise ConfigError(f'ViTConfig.embed_dim={self.embed_dim} is not divisible by '
                              f'num_heads={self.num_heads}')
        if not 0.0 < float(self.layer_norm_eps) < 1.0:
            raise ConfigError(f'ViTConfig.layer_norm_eps out of (0, 1): {self.layer_norm_eps!r}')

    @property
    def grid_size(self) -> int:
        """Tokens per side of the 384-px input (24)."""
        return VIT_IMAGE_SIZE // VIT_PATCH_SIZE

    @property
    def num_tokens(self) -> int:
        """Tokens including the class token (577)."""
        return self.grid_size ** 2 + 1


@dataclass(frozen=True)
class DepthProConfig:
    """Widths of the whole Depth Pro network (patch, image and FOV ViTs share one ViTConfig).

    Attributes:
        vit: the three ViTs (patch encoder, image encoder, FOV encoder).
        encoder_feature_dims: (dims0, dims1, dims2, dims3) widths of the encoder projections,
            official (256, 512, 1024, 1024).
        decoder_features: decoder width D (256); the FOV widths derive from it (D/2, D/4, D/8).
        hook_block_ids: the patch-encoder blocks whose raw outputs feed the two highest-
            resolution encoder maps (5, 11).
        head_hidden_dim: width before the final 1x1 conv of the depth head (hard-coded 32).
    """

    vit: ViTConfig = ViTConfig()
    encoder_feature_dims: tuple = (256, 512, 1024, 1024)
    decoder_features: int = 256
    hook_block_ids: tuple = (5, 11)
    head_hidden_dim: int = 32

    def __post_init__(self) -> None:
        dims = tuple(self.encoder_feature_dims)
        if len(dims) != 4 or any(not isinstance(d, int) or d < 1 for d in dims):
            raise ConfigError(f'encoder_feature_dims must be 4 positive ints, got {dims!r}')
        object.__setattr__(self, 'encoder_feature_dims', dims)
        hooks = tuple(self.hook_block_ids)
        if len(hooks) != 2 or any(not 0 <= h < self.vit.depth for h in hooks):
            raise ConfigError(f'hook_block_ids must be 2 block indices in [0, {self.vit.depth}), '
                              f'got {hooks!r}')
        object.__setattr__(self, 'hook_block_ids', hooks)
        if not isinstance(self.decoder_features, int) or self.decoder_features < 8 or \
                self.decoder_features % 8:
            raise ConfigError('decoder_features must be a positive multiple of 8 (FOV widths '
                              f'D/2, D/4, D/8), got {self.decoder_features!r}')


def official_config() -> DepthProConfig:
    """The released ``depth_pro.pt`` configuration (951,991,330 parameters)."""
    return DepthProConfig()


def config_from_mapping(mapping: Mapping[str, Any]) -> DepthProConfig:
    """Parse the fixture's ``config.json`` layout (groups ``vit``, ``encoder``, ``depth_pro``).

    Raises:
        ConfigError: a group or value is missing, or the stated geometry differs from the fixed
            official one (1536 px input, 384 px / patch-16 ViTs, hooks at the first two ids).
    """
    try:
        vit = mapping['vit']
        encoder = mapping['encoder']
        top = mapping['depth_pro']
        vit_config = ViTConfig(
            embed_dim=int(vit['embed_dim']), depth=int(vit['depth']),
            num_heads=int(vit['num_heads']), mlp_hidden_dim=int(vit['mlp_hidden_dim']),
            layer_norm_eps=float(vit.get('layer_norm_eps', 1e-6)))
        layer_ids = tuple(int(i) for i in encoder['encoder_feature_layer_ids'])
        config = DepthProConfig(
            vit=vit_config,
            encoder_feature_dims=tuple(int(d) for d in encoder['encoder_feature_dims']),
            decoder_features=int(top['decoder_features']),
            hook_block_ids=layer_ids[:2],
            head_hidden_dim=int(top.get('last_dims', (32, 1))[0]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f'not a Depth Pro config mapping: missing or bad value {exc}') from exc
    _check_fixed_geometry(mapping)
    return config


def _check_fixed_geometry(mapping: Mapping[str, Any]) -> None:
    vit = mapping['vit']
    stated = {
        'depth_pro.img_size': (mapping['depth_pro'].get('img_size', NETWORK_SIZE), NETWORK_SIZE),
        'vit.img_size': (_first(vit.get('img_size', VIT_IMAGE_SIZE)), VIT_IMAGE_SIZE),
        'vit.patch_size': (_first(vit.get('patch_size', VIT_PATCH_SIZE)), VIT_PATCH_SIZE),
        'depth_pro.last_dims[1]': (mapping['depth_pro'].get('last_dims', (32, 1))[1], 1),
        'depth_pro.use_fov_head': (bool(mapping['depth_pro'].get('use_fov_head', True)), True),
    }
    for name, (value, expected) in stated.items():
        if value != expected:
            raise ConfigError(f'{name}={value!r} is not supported: the official Depth Pro '
                              f'geometry fixes it to {expected!r}')


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple)) else value


ConfigLike = Union[str, Mapping[str, Any], DepthProConfig]


def resolve_config(config: ConfigLike) -> DepthProConfig:
    """A DepthProConfig from a name ('depth_pro'), a config.json mapping, or a DepthProConfig."""
    if isinstance(config, DepthProConfig):
        return config
    if isinstance(config, str):
        if config != OFFICIAL_NAME:
            raise ConfigError(f'unknown Depth Pro configuration {config!r}; '
                              f'known: {OFFICIAL_NAME!r}')
        return official_config()
    if isinstance(config, Mapping):
        return config_from_mapping(config)
    raise ConfigError(f'Depth Pro config must be a name, a mapping or a DepthProConfig, '
                      f'got {type(config).__name__}')
