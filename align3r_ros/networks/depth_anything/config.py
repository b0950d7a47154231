"""Depth Anything V2 configurations (no torch): dataclass, official releases, resolution.

The official releases are named by their DINOv2 encoder: ``vits`` (Small), ``vitb`` (Base),
``vitl`` (Large). The same resolution also accepts the ``config.json`` of the parity fixture
(``../shared/fixtures/depth_anything_v2_tiny``), so fixtures and releases share one code path.
The network is built by :func:`align3r_ros.networks.depth_anything.build.build_depth_anything_v2`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping, Tuple, Union

from align3r_ros.errors import ConfigError


@dataclass(frozen=True)
class DepthAnythingV2Config:
    """Every dimension of a DepthAnythingV2 network (DINOv2 encoder + DPT head).

    Attributes:
        encoder: official encoder name ('vits', 'vitb', 'vitl'); also used in names.
        embed_dim: ViT width C.
        depth: number of ViT blocks.
        num_heads: attention heads (C must be divisible by it).
        mlp_ratio: MLP hidden width / C.
        patch_size: ViT patch side in pixels (14).
        img_size: side of the square the position embedding was trained at (518 -> 37x37).
        layer_idx: ViT blocks whose (normed) outputs feed the four DPT levels.
        features: DPT fusion width.
        out_channels: per-level projection widths of the DPT head.
        use_bn: BatchNorm inside the residual conv units (False in every release).
        use_clstoken: concatenate the class token to the patch tokens (False in every release).
        head_features_2: width of the last hidden conv (hard-coded 32 in the reference).
        ln_eps: LayerNorm epsilon of the ViT.
        interpolate_offset: DINOv2's position-embedding resize kludge (scale = (n + 0.1) / 37).
        input_size: lower bound of the preprocessed short side (official 518).
    """

    encoder: str = 'vitl'
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    patch_size: int = 14
    img_size: int = 518
    layer_idx: Tuple[int, ...] = (4, 11, 17, 23)
    features: int = 256
    out_channels: Tuple[int, ...] = (256, 512, 1024, 1024)
    use_bn: bool = False
    use_clstoken: bool = False
    head_features_2: int = 32
    ln_eps: float = 1e-6
    interpolate_offset: float = 0.1
    input_size: int = 518

    @property
    def name(self) -> str:
        """Architecture name as reported by weight inspection, e.g. 'depth_anything_v2_vitl'."""
        return f'depth_anything_v2_{self.encoder}'

    @property
    def pos_grid(self) -> int:
        """Side of the stored position-embedding grid (37 for 518 / 14)."""
        return self.img_size // self.patch_size


#: Official configurations (Depth-Anything-V2 ``run.py`` ``model_configs`` + DINOv2 factories).
OFFICIAL_CONFIGS = {
    'vits': DepthAnythingV2Config(
        encoder='vits', embed_dim=384, depth=12, num_heads=6, layer_idx=(2, 5, 8, 11),
        features=64, out_channels=(48, 96, 192, 384)),
    'vitb': DepthAnythingV2Config(
        encoder='vitb', embed_dim=768, depth=12, num_heads=12, layer_idx=(2, 5, 8, 11),
        features=128, out_channels=(96, 192, 384, 768)),
    'vitl': DepthAnythingV2Config(
        encoder='vitl', embed_dim=1024, depth=24, num_heads=16, layer_idx=(4, 11, 17, 23),
        features=256, out_channels=(256, 512, 1024, 1024)),
}

ConfigLike = Union[str, DepthAnythingV2Config, Mapping[str, Any]]


def resolve_config(config: ConfigLike) -> DepthAnythingV2Config:
    """Turn a name, a fixture ``config.json`` mapping or a flat mapping into a checked config.

    Args:
        config: 'vits' | 'vitb' | 'vitl' (or 'depth_anything_v2_vitl'); a mapping with a
            ``constructor`` entry (the fixture format); a flat mapping of
            :class:`DepthAnythingV2Config` fields; or a config (returned checked).

    Raises:
        ConfigError: unknown name or field, or inconsistent dimensions.
    """
    if isinstance(config, DepthAnythingV2Config):
        resolved = config
    elif isinstance(config, str):
        key = config.lower().removeprefix('depth_anything_v2_')
        if key not in OFFICIAL_CONFIGS:
            raise ConfigError(f'unknown Depth Anything V2 model {config!r}; expected one of '
                              f'{sorted(OFFICIAL_CONFIGS)}')
        resolved = OFFICIAL_CONFIGS[key]
    elif isinstance(config, Mapping):
        resolved = _config_from_fixture(config) if 'constructor' in config \
            else _config_from_fields(config)
    else:
        raise ConfigError(f'cannot build a Depth Anything V2 config from {type(config).__name__}')
    _check(resolved)
    return resolved


def _config_from_fields(values: Mapping[str, Any]) -> DepthAnythingV2Config:
    names = {f.name for f in dataclasses.fields(DepthAnythingV2Config)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f'unknown Depth Anything V2 config fields {unknown}')
    base = OFFICIAL_CONFIGS.get(str(values.get('encoder', 'vitl')), DepthAnythingV2Config())
    converted = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()}
    return dataclasses.replace(base, **converted)


def _config_from_fixture(document: Mapping[str, Any]) -> DepthAnythingV2Config:
    """Map the parity fixture's ``config.json`` (reference constructor arguments)."""
    try:
        ctor = document['constructor']
        head = ctor['DepthAnythingV2']
        backbone = ctor['backbone']
        hard = ctor.get('dpt_head_hardcoded', {})
        if backbone.get('ffn_layer', 'mlp') != 'mlp':
            raise ConfigError(f"unsupported ffn_layer {backbone['ffn_layer']!r} (only 'mlp')")
        if int(backbone.get('num_register_tokens', 0)) != 0:
            raise ConfigError('register tokens are not supported '
                              f"(num_register_tokens={backbone['num_register_tokens']})")
        if backbone.get('interpolate_antialias', False):
            raise ConfigError('interpolate_antialias=True is not supported')
        return DepthAnythingV2Config(
            encoder=str(head['encoder']),
            embed_dim=int(backbone['embed_dim']),
            depth=int(backbone['depth']),
            num_heads=int(backbone['num_heads']),
            mlp_ratio=float(backbone.get('mlp_ratio', 4.0)),
            patch_size=int(backbone.get('patch_size', 14)),
            img_size=int(backbone.get('img_size', 518)),
            layer_idx=tuple(int(i) for i in backbone['intermediate_layer_idx']),
            features=int(head['features']),
            out_channels=tuple(int(c) for c in head['out_channels']),
            use_bn=bool(head.get('use_bn', False)),
            use_clstoken=bool(head.get('use_clstoken', False)),
            head_features_2=int(hard.get('head_features_2', 32)),
            ln_eps=_parse_eps(str(backbone.get('norm_layer', 'LayerNorm(eps=1e-6)'))),
            interpolate_offset=float(backbone.get('interpolate_offset', 0.1)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f'malformed Depth Anything V2 fixture config: {exc!r}') from exc


def _parse_eps(norm_layer: str) -> float:
    match = re.search(r'eps\s*=\s*([0-9.eE+-]+)', norm_layer)
    if match is None:
        raise ConfigError(f'cannot read the LayerNorm eps from {norm_layer!r}')
    return float(match.group(1))


def _check(cfg: DepthAnythingV2Config) -> None:
    if cfg.embed_dim % cfg.num_heads:
        raise ConfigError(f'embed_dim {cfg.embed_dim} not divisible by num_heads '
                          f'{cfg.num_heads}')
    if len(cfg.layer_idx) != 4 or len(cfg.out_channels) != 4:
        raise ConfigError(f'expected 4 DPT levels, got layer_idx={cfg.layer_idx} '
                          f'out_channels={cfg.out_channels}')
    if not all(0 <= i < cfg.depth for i in cfg.layer_idx):
        raise ConfigError(f'layer_idx {cfg.layer_idx} outside 0..{cfg.depth - 1}')
    if cfg.img_size % cfg.patch_size:
        raise ConfigError(f'img_size {cfg.img_size} is not a multiple of patch_size '
                          f'{cfg.patch_size}')
    if cfg.input_size < cfg.patch_size:
        raise ConfigError(f'input_size {cfg.input_size} below the patch size {cfg.patch_size}')
