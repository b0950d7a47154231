"""Everything derived from the config dataclasses' metadata.

One source (:mod:`align3r_ros.config`), many views: the flat list of parameter specs (ROS
descriptors), :func:`load_config` (mapping/YAML loading with validation; it lives here, not in
``config``, so that ``config`` imports nothing of the package but errors), the generated ROS
parameter YAML, command-line flags and the parameter table of docs/node.md.

Over 300 lines: each view is short, and they share the spec walk, coercion and range checks;
keeping them together keeps the generated files and the validation from drifting apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, Union

from align3r_ros.config import MOVED_PARAMS, Align3rConfig
from align3r_ros.errors import ConfigError

NODE_NAME = 'align3r'


@dataclass(frozen=True)
class ParamSpec:
    """One leaf parameter: its dotted name, type, default and metadata."""

    name: str                  # dotted, e.g. 'clip.length'
    type: Type[Any]            # bool, int, float, str or a StrEnum subclass
    default: Any
    help: str
    unit: str
    low: Optional[float]
    high: Optional[float]
    runtime: bool

    @property
    def choices(self) -> Optional[Tuple[str, ...]]:
        if isinstance(self.type, type) and issubclass(self.type, Enum):
            return tuple(member.value for member in self.type)
        return None


def _resolve_type(owner: type, field: dataclasses.Field) -> Type[Any]:
    hints = getattr(owner, '__resolved_hints__', None)
    if hints is None:
        import typing
        hints = typing.get_type_hints(owner)
        owner.__resolved_hints__ = hints  # cache on the class; hints never change
    return hints[field.name]


def param_specs(config_cls: type = Align3rConfig) -> List[ParamSpec]:
    """All leaf parameters of the config tree, in declaration order."""
    specs: List[ParamSpec] = []
    root = config_cls()
    for group_field in dataclasses.fields(config_cls):
        group = getattr(root, group_field.name)
        for leaf in dataclasses.fields(type(group)):
            meta = leaf.metadata
            specs.append(ParamSpec(
                name=f'{group_field.name}.{leaf.name}',
                type=_resolve_type(type(group), leaf),
                default=getattr(group, leaf.name),
                help=meta.get('help', ''), unit=meta.get('unit', ''),
                low=meta.get('low'), high=meta.get('high'), runtime=meta.get('runtime', False)))
    return specs


def config_to_flat(config: Align3rConfig) -> Dict[str, Any]:
    """{dotted name: plain value} (enums as their string value)."""
    flat: Dict[str, Any] = {}
    for spec in param_specs():
        group_name, leaf_name = spec.name.split('.', 1)
        value = getattr(getattr(config, group_name), leaf_name)
        flat[spec.name] = value.value if isinstance(value, Enum) else value
    return flat


def flatten_mapping(mapping: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    """Nested and/or dotted keys to one flat {dotted name: value} dict."""
    flat: Dict[str, Any] = {}
    for key, value in mapping.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            flat.update(flatten_mapping(value, prefix=f'{name}.'))
        else:
            flat[name] = value
    return flat


def coerce_value(spec: ParamSpec, value: Any) -> Any:
    """Convert a YAML/CLI/ROS value to the field's type, or raise ConfigError naming it."""
    kind = spec.type
    try:
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(value.value if isinstance(value, Enum) else str(value))
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ('true', 'false', '1', '0'):
                return value.lower() in ('true', '1')
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value) if value is not None else ''
    except (ValueError, TypeError):
        pass
    choices = f' (one of {", ".join(spec.choices)})' if spec.choices else ''
    raise ConfigError(f'{spec.name}: {value!r} is not a valid {getattr(kind, "__name__", kind)}'
                      f'{choices}')


def _check_range(spec: ParamSpec, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f'{spec.name}: {value!r} is not finite')
    if spec.low is not None and value < spec.low:
        raise ConfigError(f'{spec.name}: {value!r} is below its minimum {spec.low}')
    if spec.high is not None and value > spec.high:
        raise ConfigError(f'{spec.name}: {value!r} is above its maximum {spec.high}')


def _check_cross_field(config: Align3rConfig) -> None:
    if config.oracle.scale_min > config.oracle.scale_max:
        raise ConfigError(f'oracle.scale_min {config.oracle.scale_min} exceeds oracle.scale_max '
                          f'{config.oracle.scale_max}')
    if config.align.lr_min > config.align.lr:
        raise ConfigError(f'align.lr_min {config.align.lr_min} exceeds align.lr '
                          f'{config.align.lr}')


def validate(config: Align3rConfig) -> Align3rConfig:
    """Coerce every field to its type and check ranges; returns a (possibly new) config."""
    return config_from_flat(config_to_flat(config))


def config_from_flat(flat: Mapping[str, Any],
                     base: Optional[Align3rConfig] = None) -> Align3rConfig:
    """Apply {dotted name: value} overrides on ``base`` (defaults when None), validated."""
    specs = {spec.name: spec for spec in param_specs()}
    unknown = sorted(set(flat) - set(specs))
    moved = [f'{name} (now {MOVED_PARAMS[name]})' for name in unknown if name in MOVED_PARAMS]
    if moved:
        raise ConfigError(f'renamed parameter(s): {", ".join(moved)}')
    if unknown:
        raise ConfigError(f'unknown parameter(s): {", ".join(unknown)}')
    base = base if base is not None else Align3rConfig()
    groups: Dict[str, Dict[str, Any]] = {}
    for name, spec in specs.items():
        group_name, leaf_name = name.split('.', 1)
        raw = flat[name] if name in flat else getattr(getattr(base, group_name), leaf_name)
        value = coerce_value(spec, raw)
        _check_range(spec, value)
        groups.setdefault(group_name, {})[leaf_name] = value
    config = dataclasses.replace(base, **{
        group_name: dataclasses.replace(getattr(base, group_name), **values)
        for group_name, values in groups.items()})
    _check_cross_field(config)
    return config


def _strip_ros_wrapper(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept ``{node: {ros__parameters: {...}}}`` (any node key, '/**' too) or a plain mapping."""
    if len(document) >= 1 and all(isinstance(v, Mapping) and 'ros__parameters' in v
                                  for v in document.values()):
        merged: Dict[str, Any] = {}
        for node_block in document.values():
            merged.update(flatten_mapping(node_block['ros__parameters']))
        return merged
    return document


def config_from_mapping(mapping: Mapping[str, Any],
                        base: Optional[Align3rConfig] = None) -> Align3rConfig:
    """Nested or dotted overrides (or a ROS parameter document) to a validated config."""
    flat = flatten_mapping(_strip_ros_wrapper(mapping))
    flat.pop('use_sim_time', None)  # a node parameter every ROS node has, not ours
    flat.pop('autostart', None)
    return config_from_flat(flat, base)


def config_from_yaml_file(path: 'os.PathLike[str] | str',
                          base: Optional[Align3rConfig] = None) -> Align3rConfig:
    """Load the ROS parameter YAML the node takes (or a plain nested YAML mapping)."""
    import yaml

    path = os.fspath(path)
    try:
        with open(path, encoding='utf-8') as stream:
            document = yaml.safe_load(stream)
    except FileNotFoundError:
        raise ConfigError(f'config file not found: {path}') from None
    except IsADirectoryError:
        raise ConfigError(f'config file {path} is a folder; give the parameter YAML file '
                          '(e.g. config/align3r.yaml)') from None
    except yaml.YAMLError as exc:
        raise ConfigError(f'config file {path} is not valid YAML: {exc}') from None
    if document is None:
        return config_from_flat({}, base)
    if not isinstance(document, Mapping):
        raise ConfigError(f'config file {path} does not hold a mapping')
    return config_from_mapping(document, base)


#: Params-file key matching the node under any namespace and any node name (``/robot1/align3r``).
ALL_NODES_KEY = '/**'


def render_ros_yaml(config: Optional[Align3rConfig] = None,
                    node_key: str = ALL_NODES_KEY) -> str:
    """The ROS 2 parameter file for ``config`` (defaults when None), nested by group.

    Keyed ``/**`` by default: a file keyed by the bare node name does not apply to a node
    started in a namespace.
    """
    config = config if config is not None else Align3rConfig()
    flat = config_to_flat(config)
    lines = ['# Generated from align3r_ros/config.py by `align3r-config yaml`; do not edit.',
             '# Every parameter with its default; override in your own params_file.',
             "# '/**' applies to the node in any namespace and under any name.",
             f'{node_key}:', '  ros__parameters:']
    current_group = None
    for spec in param_specs():
        group_name, leaf_name = spec.name.split('.', 1)
        if group_name != current_group:
            lines.append(f'    {group_name}:')
            current_group = group_name
        lines.append(f'      # {spec.help}{_unit_suffix(spec)}')
        lines.append(f'      {leaf_name}: {_yaml_scalar(flat[spec.name])}')
    return '\n'.join(lines) + '\n'


def _unit_suffix(spec: ParamSpec) -> str:
    parts = []
    if spec.unit:
        parts.append(spec.unit)
    if spec.choices:
        parts.append('|'.join(spec.choices))
    if spec.low is not None or spec.high is not None:
        parts.append(f'[{_fmt(spec.low)}, {_fmt(spec.high)}]')
    if spec.runtime:
        parts.append('run-time')
    return f' ({"; ".join(parts)})' if parts else ''


def _fmt(bound: Optional[float]) -> str:
    return '' if bound is None else f'{bound:g}'


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        text = repr(value)
        return text if ('.' in text or 'e' in text) else f'{text}.0'
    if isinstance(value, int):
        return str(value)
    return "''" if value == '' else f"'{value}'"


def markdown_table() -> str:
    """README table of every parameter."""
    rows = ['| parameter | default | unit / range | run-time | description |',
            '|---|---|---|---|---|']
    flat = config_to_flat(Align3rConfig())
    for spec in param_specs():
        unit = _unit_suffix(dataclasses.replace(spec, runtime=False)).strip(' ()')
        unit = unit.replace('|', ' \\| ')  # a bare pipe would split the table cell
        rows.append(f'| `{spec.name}` | `{_yaml_scalar(flat[spec.name])}` | {unit} | '
                    f'{"yes" if spec.runtime else ""} | {spec.help} |')
    return '\n'.join(rows) + '\n'


def add_config_arguments(parser: argparse.ArgumentParser,
                         groups: Optional[Sequence[str]] = None) -> None:
    """Add ``--group-field`` flags (e.g. ``--pairwise-backend``) for the config's fields.

    Defaults are None so that only flags given on the command line override the config file.
    """
    for spec in param_specs():
        group_name = spec.name.split('.', 1)[0]
        if groups is not None and group_name not in groups:
            continue
        flag = '--' + spec.name.replace('.', '-').replace('_', '-')
        default = spec.default.value if isinstance(spec.default, Enum) else spec.default
        parser.add_argument(flag, dest=f'cfg__{spec.name}', default=None,
                            choices=spec.choices, metavar=_metavar(spec),
                            help=f'{spec.help}{_unit_suffix(spec)} '
                                 f'[default: {_yaml_scalar(default)}]')
    for old in MOVED_PARAMS:  # hidden: given, they are refused with the new name
        if groups is None or old.split('.', 1)[0] in groups:
            parser.add_argument('--' + old.replace('.', '-').replace('_', '-'),
                                dest=f'cfg__{old}', default=None, help=argparse.SUPPRESS)


_METAVARS = {bool: 'true|false', int: 'INT', float: 'FLOAT', str: 'TEXT'}


def _metavar(spec: ParamSpec) -> Optional[str]:
    """How ``--help`` names a flag's value: its type, or None to list the enum's choices."""
    return None if spec.choices else _METAVARS.get(spec.type, 'VALUE')


def overrides_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    """{dotted name: value} for every config flag given on the command line."""
    return {key[len('cfg__'):]: value for key, value in vars(args).items()
            if key.startswith('cfg__') and value is not None}


def config_from_args(args: argparse.Namespace, config_file: Optional[str] = None) -> Align3rConfig:
    """Config file (when given) then command-line flags on top."""
    base = config_from_yaml_file(config_file) if config_file else Align3rConfig()
    return config_from_flat(overrides_from_args(args), base)


def iter_runtime_params() -> Iterator[ParamSpec]:
    """Parameters that may change while the node runs."""
    return (spec for spec in param_specs() if spec.runtime)


ConfigSource = Union[None, str, 'Mapping[str, Any]', Align3rConfig]


def load_config(source: ConfigSource = None) -> Align3rConfig:
    """Build a validated config.

    Args:
        source: None (defaults); a path to a ROS parameter YAML (``<node>: ros__parameters:``,
            nested or dotted keys) or a plain YAML mapping; a nested mapping of overrides such as
            ``{'clip': {'length': 10}}`` or a flat one such as ``{'clip.length': 10}``; or an
            ``Align3rConfig`` (returned validated).

    Raises:
        ConfigError: unknown key, wrong type, value outside its range or choices.
    """
    if source is None:
        return validate(Align3rConfig())
    if isinstance(source, Align3rConfig):
        return validate(source)
    if isinstance(source, (str, bytes)) or hasattr(source, '__fspath__'):
        return config_from_yaml_file(source)
    if isinstance(source, Mapping):
        return config_from_mapping(source)
    raise ConfigError(f'cannot build a config from {type(source).__name__}')
