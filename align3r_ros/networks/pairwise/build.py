"""Build :class:`PairwisePointMapNet` from a fixture-style config mapping or a named config.

The mapping has the form of the fixtures' ``config.json``::

    {'architecture': 'align3r' | 'dust3r',
     'constructor_kwargs': {official AsymmetricCroCo3DStereo arguments},
     'dpt_head_overrides': {'feature_dim': .., 'last_dim': .., 'layer_dims': [..]}}  # optional

Constructor arguments are read as data, never evaluated. Arguments that do not change the
parameters or the inference maths (``img_size``, ``patch_embed_cls``, ``landscape_only``,
``mask_ratio``, ``freeze``) are accepted and ignored; unsupported heads / activations raise.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Union

from align3r_ros.errors import ConfigError
from align3r_ros.networks.pairwise.dpt_head import DptWidths
from align3r_ros.networks.pairwise.model import PairwisePointMapNet
from align3r_ros.networks.pairwise.spec import ARCHITECTURES, PairwiseNetSpec

#: The official full-size configurations (spec §1.1), by name.
NAMED_SPECS = {
    'align3r_vitl_512_dpt': PairwiseNetSpec(architecture='align3r'),
    'dust3r_vitl_512_dpt': PairwiseNetSpec(architecture='dust3r'),
}

_SIZE_KEYS = ('enc_embed_dim', 'enc_depth', 'enc_num_heads',
              'dec_embed_dim', 'dec_depth', 'dec_num_heads', 'patch_size')
_IGNORED_KEYS = ('img_size', 'patch_embed_cls', 'landscape_only', 'mask_ratio', 'freeze',
                 'norm_im2_in_dec', 'norm_layer')


def build_pairwise_net(config: Union[str, Mapping[str, Any], PairwiseNetSpec]
                       ) -> PairwisePointMapNet:
    """Construct the network (random / zero-conv-zero initialisation, eval mode).

    Args:
        config: a name from :data:`NAMED_SPECS` (e.g. 'align3r_vitl_512_dpt'), a fixture-style
            mapping (see module docstring) or a :class:`PairwiseNetSpec`.

    Build on the meta device with ``with torch.device('meta'): build_pairwise_net(...)``.

    Raises:
        ConfigError: unknown name, architecture or unsupported constructor argument.
    """
    net = PairwisePointMapNet(spec_from_config(config))
    return net.eval()


def spec_from_config(config: Union[str, Mapping[str, Any], PairwiseNetSpec]) -> PairwiseNetSpec:
    """Parse ``config`` (as :func:`build_pairwise_net`) into a :class:`PairwiseNetSpec`."""
    if isinstance(config, PairwiseNetSpec):
        return config
    if isinstance(config, str):
        spec = NAMED_SPECS.get(config)
        if spec is None:
            raise ConfigError(f'unknown pairwise network {config!r}; known: {sorted(NAMED_SPECS)}')
        return spec
    if not isinstance(config, Mapping):
        raise ConfigError(f'pairwise network config must be a name or a mapping, '
                          f'got {type(config).__name__}')
    architecture = config.get('architecture')
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"config['architecture'] must be one of {ARCHITECTURES}, "
                          f'got {architecture!r}')
    kwargs = config.get('constructor_kwargs', {})
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"config['constructor_kwargs'] must be a mapping, got {kwargs!r}")
    _check_supported(kwargs)
    sizes = {key: _as_int(kwargs[key], key) for key in _SIZE_KEYS if key in kwargs}
    return PairwiseNetSpec(
        architecture=architecture,
        mlp_ratio=float(kwargs.get('mlp_ratio', 4.0)),
        rope_base=_rope_base(kwargs.get('pos_embed', 'RoPE100')),
        dpt=_dpt_widths(config.get('dpt_head_overrides')),
        **sizes)


def _check_supported(kwargs: Mapping[str, Any]) -> None:
    known = set(_SIZE_KEYS) | set(_IGNORED_KEYS) | {
        'mlp_ratio', 'pos_embed', 'head_type', 'output_mode', 'depth_mode', 'conf_mode'}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ConfigError(f'unsupported constructor arguments {unknown}')
    expected = {'head_type': 'dpt', 'output_mode': 'pts3d'}
    for key, want in expected.items():
        if key in kwargs and kwargs[key] != want:
            raise ConfigError(f'{key}={kwargs[key]!r} is not supported (only {want!r})')
    for key, want in (('depth_mode', ('exp', -math.inf, math.inf)),
                      ('conf_mode', ('exp', 1.0, math.inf))):
        if key in kwargs and _mode(kwargs[key], key) != want:
            raise ConfigError(f'{key}={kwargs[key]!r} is not supported (only {want!r})')
    if kwargs.get('norm_im2_in_dec', True) is not True:
        raise ConfigError('norm_im2_in_dec=False is not supported')


def _mode(value: Any, key: str) -> tuple:
    """('exp', '-inf', 'inf') as stored in JSON -> ('exp', -inf, inf)."""
    try:
        kind, low, high = value
        return (str(kind), float(low), float(high))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f'{key} must be (kind, low, high), got {value!r}') from exc


def _rope_base(pos_embed: Any) -> float:
    text = str(pos_embed)
    if not text.startswith('RoPE'):
        raise ConfigError(f'pos_embed={pos_embed!r} is not supported (only RoPE<base>)')
    try:
        return float(text[4:])
    except ValueError as exc:
        raise ConfigError(f'pos_embed={pos_embed!r}: cannot read the RoPE base') from exc


def _dpt_widths(overrides: Any) -> DptWidths:
    if overrides is None:
        return DptWidths()
    if not isinstance(overrides, Mapping):
        raise ConfigError(f'dpt_head_overrides must be a mapping, got {overrides!r}')
    default = DptWidths()
    layer_dims = overrides.get('layer_dims', default.layer_dims)
    if len(layer_dims) != 4:
        raise ConfigError(f'dpt_head_overrides.layer_dims needs 4 widths, got {layer_dims!r}')
    return DptWidths(
        feature_dim=_as_int(overrides.get('feature_dim', default.feature_dim), 'feature_dim'),
        last_dim=_as_int(overrides.get('last_dim', default.last_dim), 'last_dim'),
        layer_dims=tuple(_as_int(v, 'layer_dims') for v in layer_dims))


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value \
            or value <= 0:
        raise ConfigError(f'{key} must be a positive integer, got {value!r}')
    return int(value)
