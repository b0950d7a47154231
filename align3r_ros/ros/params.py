"""ROS parameters <-> the config dataclasses (declared from ``config_io.param_specs()``).

Every leaf of :class:`~align3r_ros.config.Align3rConfig` becomes a parameter named by its dotted
path (``clip.length``) with a descriptor: description (help, unit, choices), a numeric range and
``read_only`` unless the field is marked run-time safe. ``autostart`` is the node's own.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Any, Callable, List

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)

from align3r_ros import config_io
from align3r_ros.config import Align3rConfig
from align3r_ros.errors import ConfigError

AUTOSTART = 'autostart'
_INT64_MAX = 2**63 - 1


def _descriptor(spec: config_io.ParamSpec) -> ParameterDescriptor:
    float_range, integer_range = [], []
    if spec.low is not None or spec.high is not None:
        if spec.type is float:
            float_range = [FloatingPointRange(
                from_value=-sys.float_info.max if spec.low is None else float(spec.low),
                to_value=sys.float_info.max if spec.high is None else float(spec.high),
                step=0.0)]
        elif spec.type is int:
            integer_range = [IntegerRange(
                from_value=-_INT64_MAX if spec.low is None else int(spec.low),
                to_value=_INT64_MAX if spec.high is None else int(spec.high), step=0)]
    # Every field is given: rclpy ignores ``type`` (taken from the default value).
    return ParameterDescriptor(
        name=spec.name, type=0, description=spec.help + (f' [{spec.unit}]' if spec.unit else ''),
        additional_constraints=('one of: ' + ', '.join(spec.choices)) if spec.choices else '',
        read_only=not spec.runtime, dynamic_typing=False, floating_point_range=float_range,
        integer_range=integer_range)


def declare_parameters(node: Any) -> None:
    """Declare every config parameter (and ``autostart``) on ``node`` with its descriptor."""
    for spec in config_io.param_specs():
        default = spec.default.value if isinstance(spec.default, Enum) else spec.default
        node.declare_parameter(spec.name, default, _descriptor(spec))
    node.declare_parameter(AUTOSTART, False, ParameterDescriptor(
        name=AUTOSTART, type=0,
        description='Configure and activate the lifecycle node at start-up',
        additional_constraints='', read_only=True, dynamic_typing=False,
        floating_point_range=[], integer_range=[]))


def read_config(node: Any) -> Align3rConfig:
    """The validated config from the node's current parameter values.

    Raises:
        ConfigError: a value of the wrong type, out of range or not one of its choices.
    """
    flat = {spec.name: node.get_parameter(spec.name).value for spec in config_io.param_specs()}
    return config_io.config_from_flat(flat)


def make_set_parameters_callback(
        get_config: Callable[[], Align3rConfig],
        apply_config: Callable[[Align3rConfig], None]) -> Callable[[List[Any]], Any]:
    """A callback for ``node.add_on_set_parameters_callback``.

    It accepts a change only when every parameter is run-time safe and the resulting config
    validates; then ``apply_config(new_config)`` is called. Register it AFTER declaring, so
    declarations never reach it.
    """
    runtime = {spec.name for spec in config_io.iter_runtime_params()}

    def on_set_parameters(parameters: List[Any]) -> SetParametersResult:
        refused = [p.name for p in parameters if p.name not in runtime]
        if refused:
            return SetParametersResult(
                successful=False, reason=f'{", ".join(refused)} cannot change at run time; '
                                         'reconfigure the node (cleanup, configure)')
        try:
            new_config = config_io.config_from_flat({p.name: p.value for p in parameters},
                                                    base=get_config())
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        apply_config(new_config)
        return SetParametersResult(successful=True, reason='')

    return on_set_parameters
