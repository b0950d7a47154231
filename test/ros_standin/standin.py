"""A minimal in-process stand-in for EXACTLY the rclpy / tf2_ros surface align3r_ros.ros uses.

Installed into ``sys.modules`` by the ``standin`` fixture only (never at import). Message
modules (``sensor_msgs.msg`` ...) hold the real ``rosbags`` typestore classes, whose field names
are rclpy's. Each mimicked signature follows the real source (paths in ros2/rclpy and
ros2/geometry2):

- ``Node.__init__(node_name, *, namespace=None, parameter_overrides=None, ...)``,
  ``declare_parameter(name, value=None, descriptor=None, ignore_override=False)``,
  ``add_on_set_parameters_callback(callback)``,
  ``create_publisher(msg_type, topic, qos_profile, *, callback_group=None, ...)``,
  ``create_subscription(msg_type, topic, callback, qos_profile, *, callback_group=None, ...)``,
  ``create_timer(timer_period_sec, callback, callback_group=None, clock=None, autostart=True)``,
  ``destroy_publisher/destroy_subscription/destroy_timer``, ``get_logger``, ``get_clock``:
  rclpy/rclpy/node.py. An int ``qos_profile`` means ``QoSProfile(depth=int)``
  (``Node._validate_qos_or_depth_parameter``).
- ``LifecycleNode(node_name, *, enable_communication_interface=True, **kwargs)``,
  ``trigger_configure/activate/deactivate/cleanup/shutdown``, ``on_*`` callbacks returning
  ``TransitionCallbackReturn``; an exception or ERROR runs ``on_error``; the state machine
  current state is ``_state_machine.current_state == (id, label)``; ``LifecycleState`` is
  ``NamedTuple(label, state_id)``: rclpy/rclpy/lifecycle/node.py,
  rclpy/rclpy/lifecycle/__init__.py.
- Logger ``debug/info/warning/error/fatal(message, **kwargs)`` with ``throttle_duration_sec``:
  rclpy/rclpy/impl/rcutils_logger.py.
- ``QoSProfile(**kwargs)`` (history, depth, reliability, durability; unknown keys rejected;
  history or depth required, KEEP_LAST needs a depth, ``depth`` must be an int; unset fields
  take ``rmw_qos_profile_default``: keep last 10, reliable, volatile),
  ``InvalidQoSProfileException``,
  ``ReliabilityPolicy/DurabilityPolicy/HistoryPolicy`` (SYSTEM_DEFAULT 0, RELIABLE/TRANSIENT_LOCAL/
  KEEP_LAST 1, BEST_EFFORT/VOLATILE/KEEP_ALL 2, UNKNOWN 3): rclpy/rclpy/qos.py;
  ``qos_profile_sensor_data`` (keep last 5, best effort, volatile): rmw/include/rmw/qos_profiles.h
  (ros2/rmw). Delivery follows the RMW compatibility rules: a RELIABLE subscription
  gets nothing from a BEST_EFFORT publisher, a TRANSIENT_LOCAL subscription nothing from a
  VOLATILE publisher; TRANSIENT_LOCAL publishers replay their history to late joiners.
- ``rclpy.init(*, args=None, context=None, domain_id=None, signal_handler_options=None)``,
  ``shutdown(*, context=None, uninstall_handlers=None)``, ``spin(node, executor=None)``,
  ``spin_once(node, *, executor=None, timeout_sec=None)``: rclpy/rclpy/__init__.py;
  ``try_shutdown(*, context=None)``: rclpy/rclpy/utilities.py. Unlike rclpy, ``spin_once`` with
  ``timeout_sec=None`` returns at once instead of blocking forever (a test never hangs).
- ``rclpy.time.Time(*, seconds=0, nanoseconds=0, clock_type=ClockType.SYSTEM_TIME)`` (TypeError
  for a clock_type that is not a ClockType, ValueError for negative values; ``nanoseconds``,
  ``clock_type``, ``seconds_nanoseconds()``, ``to_msg()``): rclpy/rclpy/time.py; ``ClockType``
  (ROS_TIME 1, SYSTEM_TIME 2, STEADY_TIME 3): rclpy/rclpy/clock.py; ``Node.get_clock().now()`` is
  ROS time; ``rclpy.duration.Duration(*, seconds=0, nanoseconds=0)`` (may be negative):
  rclpy/rclpy/duration.py; ``rclpy.executors.ExternalShutdownException(Exception)``:
  rclpy/rclpy/executors.py (executors themselves are not mimicked: align3r_ros.ros uses none).
- tf2_ros: see :mod:`standin_tf2` (same folder).
"""

from __future__ import annotations

import enum
import sys
import threading
import time
import types as pytypes
from collections import deque
from typing import Any, Dict, List, NamedTuple, Optional

MESSAGE_PACKAGES = ('builtin_interfaces', 'std_msgs', 'sensor_msgs', 'geometry_msgs', 'nav_msgs',
                    'tf2_msgs', 'diagnostic_msgs', 'rcl_interfaces')


class ReliabilityPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    RELIABLE = 1
    BEST_EFFORT = 2
    UNKNOWN = 3


class DurabilityPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    TRANSIENT_LOCAL = 1
    VOLATILE = 2
    UNKNOWN = 3


class HistoryPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    KEEP_LAST = 1
    KEEP_ALL = 2
    UNKNOWN = 3


class InvalidQoSProfileException(Exception):
    def __init__(self, *args: Any) -> None:
        Exception.__init__(self, 'Invalid QoSProfile', *args)


class QoSProfile:
    _FIELDS = ('history', 'depth', 'reliability', 'durability', 'lifespan', 'deadline',
               'liveliness', 'liveliness_lease_duration', 'avoid_ros_namespace_conventions')

    def __init__(self, **kwargs: Any) -> None:
        assert all(key in self._FIELDS for key in kwargs), \
            'Invalid arguments passed to constructor: %r' % kwargs.keys()
        if 'history' not in kwargs:
            if 'depth' not in kwargs:
                raise InvalidQoSProfileException('History and/or depth settings are required.')
            kwargs['history'] = HistoryPolicy.KEEP_LAST
        self.history = HistoryPolicy(kwargs['history'])
        if self.history == HistoryPolicy.KEEP_LAST and 'depth' not in kwargs:
            raise InvalidQoSProfileException('History set to KEEP_LAST without a depth setting.')
        self.depth = kwargs.get('depth', 10)  # rmw_qos_profile_default
        assert isinstance(self.depth, int)
        self.reliability = ReliabilityPolicy(kwargs.get('reliability',
                                                        ReliabilityPolicy.RELIABLE))
        self.durability = DurabilityPolicy(kwargs.get('durability', DurabilityPolicy.VOLATILE))


qos_profile_sensor_data = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                                     reliability=ReliabilityPolicy.BEST_EFFORT,
                                     durability=DurabilityPolicy.VOLATILE)


def _as_qos(qos: Any) -> QoSProfile:
    if isinstance(qos, QoSProfile):
        return qos
    if isinstance(qos, int) and not isinstance(qos, bool):
        return QoSProfile(depth=qos)
    raise TypeError(f'Expected QoSProfile or int, but received {type(qos)!r}')


def compatible(pub: QoSProfile, sub: QoSProfile) -> bool:
    if sub.reliability == ReliabilityPolicy.RELIABLE and \
            pub.reliability == ReliabilityPolicy.BEST_EFFORT:
        return False
    return not (sub.durability == DurabilityPolicy.TRANSIENT_LOCAL and
                pub.durability == DurabilityPolicy.VOLATILE)


class ClockType(enum.IntEnum):
    ROS_TIME = 1
    SYSTEM_TIME = 2
    STEADY_TIME = 3


class Time:
    def __init__(self, *, seconds: float = 0, nanoseconds: int = 0,
                 clock_type: ClockType = ClockType.SYSTEM_TIME) -> None:
        if not isinstance(clock_type, ClockType):
            raise TypeError('Clock type must be a ClockType enum')
        if seconds < 0:
            raise ValueError('Seconds value must not be negative')
        if nanoseconds < 0:
            raise ValueError('Nanoseconds value must not be negative')
        self.nanoseconds = int(seconds * 10**9) + int(nanoseconds)
        self.clock_type = clock_type

    def seconds_nanoseconds(self) -> tuple:
        return self.nanoseconds // 10**9, self.nanoseconds % 10**9

    def to_msg(self) -> Any:
        from builtin_interfaces.msg import Time as TimeMsg
        sec, nanosec = self.seconds_nanoseconds()
        return TimeMsg(sec=sec, nanosec=nanosec)


class Duration:
    def __init__(self, *, seconds: float = 0, nanoseconds: int = 0) -> None:
        self.nanoseconds = int(seconds * 10**9) + int(nanoseconds)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self.nanoseconds == other.nanoseconds
        return NotImplemented


class Clock:
    """A node's clock: ROS time (system time while no /clock is used)."""

    clock_type = ClockType.ROS_TIME

    def now(self) -> Time:
        return Time(nanoseconds=time.time_ns(), clock_type=self.clock_type)


class Logger:
    def __init__(self, name: str) -> None:
        self.name = name
        self.records: List[tuple] = []
        self._last: Dict[tuple, float] = {}

    def _log(self, severity: str, message: str, throttle_duration_sec: float = 0.0,
             **kwargs: Any) -> bool:
        unknown = set(kwargs) - {'once', 'skip_first', 'throttle_time_source_type'}
        if unknown:
            raise TypeError(f'unknown logging options {unknown}')
        site = (severity, sys._getframe(2).f_code.co_filename, sys._getframe(2).f_lineno)
        now = time.monotonic()
        if throttle_duration_sec and now < self._last.get(site, -1e18) + throttle_duration_sec:
            return False
        self._last[site] = now
        self.records.append((severity, message))
        return True

    def debug(self, message: str, **kwargs: Any) -> bool:
        return self._log('DEBUG', message, **kwargs)

    def info(self, message: str, **kwargs: Any) -> bool:
        return self._log('INFO', message, **kwargs)

    def warning(self, message: str, **kwargs: Any) -> bool:
        return self._log('WARN', message, **kwargs)

    def error(self, message: str, **kwargs: Any) -> bool:
        return self._log('ERROR', message, **kwargs)

    def fatal(self, message: str, **kwargs: Any) -> bool:
        return self._log('FATAL', message, **kwargs)


class Graph:
    """Every topic of the process: publishers, subscriptions, pending callbacks."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.publishers: List['Publisher'] = []
        self.subscriptions: List['Subscription'] = []


GRAPH = Graph()


class Publisher:
    def __init__(self, msg_type: Any, topic: str, qos: QoSProfile) -> None:
        self.msg_type, self.topic, self.qos = msg_type, topic, qos
        self.history: deque = deque(maxlen=max(qos.depth, 1))
        self.published: List[Any] = []  # everything, for assertions

    def publish(self, msg: Any) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f'{self.topic}: expected {self.msg_type.__msgtype__}, got '
                            f'{type(msg).__name__}')
        with GRAPH.lock:
            self.published.append(msg)
            self.history.append(msg)
            for sub in GRAPH.subscriptions:
                if sub.topic == self.topic and compatible(self.qos, sub.qos):
                    sub.pending.append(msg)


class Subscription:
    def __init__(self, msg_type: Any, topic: str, callback: Any, qos: QoSProfile) -> None:
        self.msg_type, self.topic, self.callback, self.qos = msg_type, topic, callback, qos
        self.pending: deque = deque(maxlen=max(qos.depth, 1))


class Timer:
    def __init__(self, period_s: float, callback: Any) -> None:
        self.period_s, self.callback = period_s, callback
        self.next_s = time.monotonic() + period_s


class Parameter:
    """rclpy.parameter.Parameter(name, type_=None, value=None)."""

    def __init__(self, name: str, type_: Any = None, value: Any = None) -> None:
        self.name, self.type_, self.value = name, type_, value


def _resolve(topic: str, name: str, namespace: str) -> str:
    ns = namespace.rstrip('/')
    if topic.startswith('/'):
        return topic
    if topic.startswith('~/'):
        return f'{ns}/{name}/{topic[2:]}'
    return f'{ns}/{topic}'


class Node:
    def __init__(self, node_name: str, *, namespace: Optional[str] = None,
                 parameter_overrides: Optional[List[Parameter]] = None, **_: Any) -> None:
        self._name, self._namespace = node_name, namespace or ''
        self._overrides = {p.name: p.value for p in parameter_overrides or []}
        self._parameters: Dict[str, Any] = {}
        self._descriptors: Dict[str, Any] = {}
        self._on_set: List[Any] = []
        self.publishers: List[Publisher] = []
        self.subscriptions: List[Subscription] = []
        self.timers: List[Timer] = []
        self._logger = Logger(node_name)
        self._clock = Clock()
        self.declare_parameter('use_sim_time', False)

    def get_name(self) -> str:
        return self._name

    def get_logger(self) -> Logger:
        return self._logger

    def get_clock(self) -> Clock:
        return self._clock

    def declare_parameter(self, name: str, value: Any = None, descriptor: Any = None,
                          ignore_override: bool = False) -> Parameter:
        if name in self._parameters:
            raise RuntimeError(f'ParameterAlreadyDeclaredException: {name}')
        if not ignore_override and name in self._overrides:
            value = self._overrides[name]
        self._parameters[name] = value
        self._descriptors[name] = descriptor
        return Parameter(name, value=value)

    def get_parameter(self, name: str) -> Parameter:
        if name not in self._parameters:
            raise RuntimeError(f'ParameterNotDeclaredException: {name}')
        return Parameter(name, value=self._parameters[name])

    def describe_parameter(self, name: str) -> Any:
        return self._descriptors[name]

    def add_on_set_parameters_callback(self, callback: Any) -> None:
        self._on_set.insert(0, callback)

    def set_parameters(self, parameter_list: List[Parameter]) -> List[Any]:
        """Like rclpy: read-only, type and range checks, then the callbacks; per parameter."""
        from rcl_interfaces.msg import SetParametersResult
        results = []
        for parameter in parameter_list:
            reason = self._check(parameter)
            if reason is None:
                for callback in self._on_set:
                    result = callback([parameter])
                    if not result.successful:
                        reason = result.reason
                        break
            if reason is None:
                self._parameters[parameter.name] = parameter.value
            results.append(SetParametersResult(successful=reason is None, reason=reason or ''))
        return results

    def _check(self, parameter: Parameter) -> Optional[str]:
        descriptor = self._descriptors.get(parameter.name)
        if descriptor is None:
            return None
        if descriptor.read_only:
            return f'Trying to set a read-only parameter: {parameter.name}.'
        current = self._parameters[parameter.name]
        if type(current) is not type(parameter.value):
            return 'Wrong parameter type, parameter {%s} is of type {%s}' % (
                parameter.name, type(current).__name__)
        for ranges in (descriptor.floating_point_range, descriptor.integer_range):
            if ranges and not ranges[0].from_value <= parameter.value <= ranges[0].to_value:
                return 'Parameter {%s} doesn\'t comply with range.' % parameter.name
        return None

    def create_publisher(self, msg_type: Any, topic: str, qos_profile: Any, *,
                         callback_group: Any = None, **_: Any) -> Publisher:
        publisher = Publisher(msg_type, _resolve(topic, self._name, self._namespace),
                              _as_qos(qos_profile))
        with GRAPH.lock:
            GRAPH.publishers.append(publisher)
        self.publishers.append(publisher)
        return publisher

    def create_subscription(self, msg_type: Any, topic: str, callback: Any, qos_profile: Any,
                            *, callback_group: Any = None, **_: Any) -> Subscription:
        sub = Subscription(msg_type, _resolve(topic, self._name, self._namespace), callback,
                           _as_qos(qos_profile))
        with GRAPH.lock:
            for pub in GRAPH.publishers:  # late joiner: transient-local replay
                if pub.topic == sub.topic and \
                        pub.qos.durability == DurabilityPolicy.TRANSIENT_LOCAL and \
                        compatible(pub.qos, sub.qos):
                    sub.pending.extend(pub.history)
            GRAPH.subscriptions.append(sub)
        self.subscriptions.append(sub)
        return sub

    def create_timer(self, timer_period_sec: float, callback: Any, callback_group: Any = None,
                     clock: Any = None, autostart: bool = True) -> Timer:
        timer = Timer(float(timer_period_sec), callback)
        self.timers.append(timer)
        return timer

    def destroy_publisher(self, publisher: Publisher) -> bool:
        with GRAPH.lock:
            if publisher in GRAPH.publishers:
                GRAPH.publishers.remove(publisher)
        if publisher in self.publishers:
            self.publishers.remove(publisher)
            return True
        return False

    def destroy_subscription(self, subscription: Subscription) -> bool:
        with GRAPH.lock:
            if subscription in GRAPH.subscriptions:
                GRAPH.subscriptions.remove(subscription)
        if subscription in self.subscriptions:
            self.subscriptions.remove(subscription)
            return True
        return False

    def destroy_timer(self, timer: Timer) -> bool:
        if timer in self.timers:
            self.timers.remove(timer)
            return True
        return False

    def destroy_node(self) -> None:
        for entity in list(self.publishers):
            self.destroy_publisher(entity)
        for entity in list(self.subscriptions):
            self.destroy_subscription(entity)
        self.timers.clear()


class TransitionCallbackReturn(enum.Enum):
    SUCCESS = 97
    FAILURE = 98
    ERROR = 99


class LifecycleState(NamedTuple):
    label: str
    state_id: int


_STATES = {1: 'unconfigured', 2: 'inactive', 3: 'active', 4: 'finalized'}


class _StateMachine:
    def __init__(self) -> None:
        self.state_id = 1

    @property
    def current_state(self) -> tuple:
        return self.state_id, _STATES[self.state_id]


class LifecycleNode(Node):
    def __init__(self, node_name: str, *, enable_communication_interface: bool = True,
                 **kwargs: Any) -> None:
        Node.__init__(self, node_name, **kwargs)
        self._state_machine = _StateMachine()

    def _change(self, callback: Any, allowed: tuple, goal: int) -> TransitionCallbackReturn:
        start = self._state_machine.state_id
        if start not in allowed:
            raise RuntimeError(f'transition not allowed from {_STATES[start]}')
        previous = LifecycleState(label=_STATES[start], state_id=start)
        try:
            ret = callback(previous)
        except Exception:
            ret = TransitionCallbackReturn.ERROR
        if ret == TransitionCallbackReturn.SUCCESS:
            self._state_machine.state_id = goal
        elif ret == TransitionCallbackReturn.ERROR:
            err = self.on_error(previous)
            self._state_machine.state_id = 1 if err == TransitionCallbackReturn.SUCCESS else 4
        return ret

    def trigger_configure(self) -> TransitionCallbackReturn:
        return self._change(self.on_configure, (1,), 2)

    def trigger_activate(self) -> TransitionCallbackReturn:
        return self._change(self.on_activate, (2,), 3)

    def trigger_deactivate(self) -> TransitionCallbackReturn:
        return self._change(self.on_deactivate, (3,), 2)

    def trigger_cleanup(self) -> TransitionCallbackReturn:
        return self._change(self.on_cleanup, (2,), 1)

    def trigger_shutdown(self) -> TransitionCallbackReturn:
        return self._change(self.on_shutdown, (1, 2, 3), 4)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return TransitionCallbackReturn.SUCCESS

    on_activate = on_deactivate = on_cleanup = on_shutdown = on_error = on_configure


def spin_once(node: Node, *, executor: Any = None, timeout_sec: Optional[float] = None) -> None:
    """Run every due timer and at most one pending subscription callback of ``node``."""
    now = time.monotonic()
    for timer in list(node.timers):
        if now >= timer.next_s:
            timer.next_s = now + timer.period_s
            timer.callback()
    with GRAPH.lock:
        ready = [sub for sub in node.subscriptions if sub.pending]
        item = (ready[0], ready[0].pending.popleft()) if ready else None
    if item is not None:
        item[0].callback(item[1])
    elif timeout_sec:
        time.sleep(min(timeout_sec, 0.001))


class ExternalShutdownException(Exception):
    pass


def _init(*, args: Any = None, context: Any = None, domain_id: Any = None,
          signal_handler_options: Any = None) -> None:
    pass


def _shutdown(*, context: Any = None, uninstall_handlers: Any = None) -> None:
    pass


def _try_shutdown(*, context: Any = None) -> None:
    pass


def build_modules(typestore: Any) -> Dict[str, pytypes.ModuleType]:
    """The fake modules: rclpy.*, tf2_ros and message packages from ``typestore``."""
    modules: Dict[str, pytypes.ModuleType] = {}

    def module(name: str, **attrs: Any) -> pytypes.ModuleType:
        mod = pytypes.ModuleType(name)
        mod.__dict__.update(attrs)
        modules[name] = mod
        return mod

    for package in MESSAGE_PACKAGES:
        classes = {name.split('/')[-1]: cls for name, cls in typestore.types.items()
                   if name.startswith(f'{package}/msg/')}
        module(package, msg=module(f'{package}.msg', **classes))
    qos = module('rclpy.qos', QoSProfile=QoSProfile, ReliabilityPolicy=ReliabilityPolicy,
                 DurabilityPolicy=DurabilityPolicy, HistoryPolicy=HistoryPolicy,
                 InvalidQoSProfileException=InvalidQoSProfileException,
                 qos_profile_sensor_data=qos_profile_sensor_data)
    lifecycle = module('rclpy.lifecycle', LifecycleNode=LifecycleNode, Node=LifecycleNode,
                       LifecycleState=LifecycleState, State=LifecycleState,
                       TransitionCallbackReturn=TransitionCallbackReturn)
    module('rclpy', init=_init, shutdown=_shutdown, try_shutdown=_try_shutdown,
           spin=lambda node, executor=None: None, spin_once=spin_once, qos=qos,
           lifecycle=lifecycle, clock=module('rclpy.clock', Clock=Clock, ClockType=ClockType),
           node=module('rclpy.node', Node=Node),
           time=module('rclpy.time', Time=Time, ClockType=ClockType),
           duration=module('rclpy.duration', Duration=Duration),
           parameter=module('rclpy.parameter', Parameter=Parameter),
           executors=module('rclpy.executors',
                            ExternalShutdownException=ExternalShutdownException))
    from . import standin_tf2  # imports this module: not at the top
    module('tf2_ros', **{name: getattr(standin_tf2, name) for name in standin_tf2.__all__})
    return modules
