"""ROS parameters <-> the config dataclasses (declared from ``config_io.param_specs()``).

Every leaf of :class:`~align3r_ros.config.Align3rConfig` becomes a parameter named by its dotted
path (``clip.length``) with a descriptor: description (help, unit, choices) and a numeric range.
``autostart`` is the node's own.

What real rclpy would otherwise do with a params file, and what happens instead:

- A YAML integer for a double (``output.conf_threshold: 3``) is accepted as that double, at
  start-up and through ``ros2 param set``.
- A value rclpy refuses at declaration (out of range, wrong type) does not kill the process: the
  parameter keeps its default and :meth:`ParameterState.read_config` (hence configure) fails with
  one line naming the parameter, the value and the allowed range, until the parameter is set to
  a valid value.
- Parameters that need a restart of the stream (everything not marked ``runtime``) can be set
  while the node is unconfigured or inactive and take effect on the next configure; while it is
  active they are refused with that reason. Run-time parameters apply at once.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Any, Callable, Dict, List, Mapping, Optional

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.parameter import Parameter

from align3r_ros import config_io
from align3r_ros.config import MOVED_PARAMS, Align3rConfig
from align3r_ros.errors import ConfigError

AUTOSTART = 'autostart'
_INT64_MAX = 2**63 - 1


def _specs() -> Dict[str, config_io.ParamSpec]:
    return {spec.name: spec for spec in config_io.param_specs()}


def allowed_values(spec: config_io.ParamSpec) -> str:
    """What a parameter accepts, for one-line errors: ``[2, 200]``, ``one of: a, b``, ``int``."""
    if spec.choices:
        return 'one of: ' + ', '.join(spec.choices)
    if spec.low is not None or spec.high is not None:
        low = '-inf' if spec.low is None else f'{spec.low:g}'
        high = 'inf' if spec.high is None else f'{spec.high:g}'
        return f'{getattr(spec.type, "__name__", spec.type)} in [{low}, {high}]'
    return getattr(spec.type, '__name__', str(spec.type))


def with_allowed(message: str) -> str:
    """``message`` (a ConfigError text starting with a parameter name) plus its allowed values."""
    name = message.split(':', 1)[0].strip()
    spec = _specs().get(name)
    return f'{message} (allowed: {allowed_values(spec)})' if spec is not None else message


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
    restart = '' if spec.runtime else ' (takes effect on the next configure)'
    # Every field is given: rclpy ignores ``type`` (taken from the default value). Not
    # read-only: the set-parameters callback decides by lifecycle state (see module docstring).
    return ParameterDescriptor(
        name=spec.name, type=0,
        description=spec.help + (f' [{spec.unit}]' if spec.unit else '') + restart,
        additional_constraints=('one of: ' + ', '.join(spec.choices)) if spec.choices else '',
        read_only=False, dynamic_typing=False, floating_point_range=float_range,
        integer_range=integer_range)


def _override(node: Any, name: str) -> Any:
    """The params-file / command-line value given for ``name``.

    rclpy has no public accessor for an override that failed declaration; ``_parameter_overrides``
    (name -> Parameter) has held them since Foxy.
    """
    parameter = getattr(node, '_parameter_overrides', {}).get(name)
    return None if parameter is None else parameter.value


class ParameterState:
    """The node's parameters: declaration, the validated config, and the set-parameters gate.

    Args:
        node: the rclpy node (declares on construction).
        is_active: True while the lifecycle node is active (restart-needing changes refused).
        apply_runtime: called with the running config updated by accepted run-time changes.
        running_config: the config the stream runs with (None when unconfigured).
    """

    def __init__(self, node: Any, is_active: Callable[[], bool],
                 running_config: Callable[[], Optional[Align3rConfig]],
                 apply_runtime: Callable[[Align3rConfig], None]) -> None:
        self._node = node
        self._is_active = is_active
        self._running_config = running_config
        self._apply_runtime = apply_runtime
        self._specs = _specs()
        self._runtime = {spec.name for spec in config_io.iter_runtime_params()}
        #: parameter name -> one-line reason its override was refused (cleared by a valid set)
        self.override_problems: Dict[str, str] = {}
        self._declare()
        if hasattr(node, 'add_pre_set_parameters_callback'):  # Iron and newer
            node.add_pre_set_parameters_callback(self._doubles_from_integers)
        node.add_on_set_parameters_callback(self.on_set_parameters)

    # -- declaration ------------------------------------------------------------------------
    def _declare(self) -> None:
        node = self._node
        for spec in self._specs.values():
            default = spec.default.value if isinstance(spec.default, Enum) else spec.default
            try:
                node.declare_parameter(spec.name, default, _descriptor(spec))
                continue
            except (InvalidParameterTypeException, InvalidParameterValueException):
                node.declare_parameter(spec.name, default, _descriptor(spec),
                                       ignore_override=True)
            value = _override(node, spec.name)
            try:
                checked = config_io.config_from_flat({spec.name: value})
            except ConfigError as exc:
                self.override_problems[spec.name] = with_allowed(str(exc))
                node.get_logger().error(f'parameter override refused: {with_allowed(str(exc))}')
                continue
            group, leaf = spec.name.split('.', 1)
            accepted = getattr(getattr(checked, group), leaf)  # e.g. the int 3 as 3.0
            node.set_parameters([Parameter(spec.name, value=accepted)])
        for old in MOVED_PARAMS:  # a renamed parameter in a params file: refused, with its name
            if _override(node, old) is not None:
                try:
                    config_io.config_from_flat({old: _override(node, old)})
                except ConfigError as exc:
                    self.override_problems[old] = str(exc)
                    node.get_logger().error(f'parameter override refused: {exc}')
        node.declare_parameter(AUTOSTART, False, ParameterDescriptor(
            name=AUTOSTART, type=0,
            description='Configure and activate the lifecycle node at start-up',
            additional_constraints='', read_only=True, dynamic_typing=False,
            floating_point_range=[], integer_range=[]))

    # -- reading ----------------------------------------------------------------------------
    def _current_flat(self) -> Dict[str, Any]:
        return {name: self._node.get_parameter(name).value for name in self._specs}

    def read_config(self) -> Align3rConfig:
        """The validated config from the node's current parameter values.

        Raises:
            ConfigError: one line naming the parameter, its value and what it allows (also for
                a refused params-file override that has not been corrected yet).
        """
        if self.override_problems:
            raise ConfigError(next(iter(self.override_problems.values())))
        try:
            return config_io.config_from_flat(self._current_flat())
        except ConfigError as exc:
            raise ConfigError(with_allowed(str(exc))) from None

    # -- setting ----------------------------------------------------------------------------
    def _doubles_from_integers(self, parameters: List[Parameter]) -> List[Parameter]:
        """Pre-set callback: an integer for a double parameter becomes that double."""
        out = []
        for p in parameters:
            spec = self._specs.get(p.name)
            if spec is not None and spec.type is float and p.type_ == Parameter.Type.INTEGER:
                p = Parameter(p.name, value=float(p.value))
            out.append(p)
        return out

    def on_set_parameters(self, parameters: List[Parameter]) -> SetParametersResult:
        """Accept a change when its config validates and the lifecycle state allows it."""
        changes: Mapping[str, Any] = {p.name: p.value for p in parameters if p.name in self._specs}
        if not changes:
            return SetParametersResult(successful=True, reason='')
        restart = sorted(name for name in changes if name not in self._runtime)
        if restart and self._is_active():
            return SetParametersResult(
                successful=False,
                reason=f'{", ".join(restart)} cannot change while the node is active (it needs '
                       'a restart of the stream): deactivate it, set the parameter, then '
                       'cleanup and configure')
        try:
            base = config_io.config_from_flat(
                {k: v for k, v in self._current_flat().items() if k not in self.override_problems})
            config_io.config_from_flat(changes, base=base)
            running = self._running_config()
            runtime_changes = {k: v for k, v in changes.items() if k in self._runtime}
            updated = (config_io.config_from_flat(runtime_changes, base=running)
                       if running is not None and runtime_changes else None)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=with_allowed(str(exc)))
        for name in changes:
            self.override_problems.pop(name, None)
        if updated is not None:
            self._apply_runtime(updated)
        if restart:
            self._node.get_logger().info(
                f'{", ".join(restart)} set: takes effect on the next configure')
        return SetParametersResult(successful=True, reason='')
