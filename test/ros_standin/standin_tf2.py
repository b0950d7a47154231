"""The tf2_ros part of the stand-in (see :mod:`standin`): broadcaster, listener, buffer.

Each mimicked signature follows the real source (ros2/geometry2):

- ``TransformBroadcaster(node, qos=QoSProfile(depth=100))`` with ``pub_tf`` and
  ``sendTransform(transform or iterable of transforms)``:
  tf2_ros_py/tf2_ros/transform_broadcaster.py; ``TransformListener(buffer, node, *,
  spin_thread=False, qos=None, static_qos=None, tf_topic='/tf', tf_static_topic='/tf_static',
  static_only=False)`` (``callback`` -> set_transform, ``static_callback`` ->
  set_transform_static, ``unregister()``): tf2_ros_py/tf2_ros/transform_listener.py;
  ``Buffer(cache_time=None, node=None)``, ``lookup_transform(target_frame, source_frame, time,
  timeout=Duration())``, ``set_transform(transform, authority)``,
  ``set_transform_static(transform, authority)``: tf2_ros_py/tf2_ros/buffer.py (ros2/geometry2);
  ``TransformException`` and its ``LookupException`` / ``ConnectivityException`` /
  ``ExtrapolationException``: tf2_py, star-imported by tf2_ros/__init__.py. The buffer keeps the
  latest transform of each edge and ignores ``time`` (no interpolation, no extrapolation error).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Dict, List

import numpy as np

from .standin import DurabilityPolicy, Duration, HistoryPolicy, Node, QoSProfile, Time

__all__ = ['TransformBroadcaster', 'TransformListener', 'Buffer', 'TransformException',
           'LookupException', 'ConnectivityException', 'ExtrapolationException']


class TransformException(Exception):
    pass


class LookupException(TransformException):
    pass


class ConnectivityException(TransformException):
    pass


class ExtrapolationException(TransformException):
    pass


class TransformBroadcaster:
    def __init__(self, node: Node, qos: Any = None) -> None:
        from tf2_msgs.msg import TFMessage
        self._TFMessage = TFMessage
        self.pub_tf = node.create_publisher(TFMessage, '/tf', qos or QoSProfile(depth=100))

    def sendTransform(self, transform: Any) -> None:
        if not isinstance(transform, list):
            transform = list(transform) if hasattr(transform, '__iter__') else [transform]
        self.pub_tf.publish(self._TFMessage(transforms=transform))


class Buffer:
    """tf2 buffer holding the latest transform of each edge (no time interpolation)."""

    def __init__(self, cache_time: Any = None, node: Any = None) -> None:
        self._edges: Dict[tuple, Any] = {}

    def set_transform(self, transform: Any, authority: str) -> bool:
        self._edges[(transform.header.frame_id, transform.child_frame_id)] = transform
        return True

    set_transform_static = set_transform

    def lookup_transform(self, target_frame: str, source_frame: str, time: Time,
                         timeout: Duration = Duration()) -> Any:
        """TransformStamped whose transform maps source_frame points into target_frame."""
        from align3r_ros.messages import MessageTypes
        from align3r_ros.messages.transforms import (
            invert_transform,
            matrix_to_transform_stamped,
            transform_to_matrix,
        )
        graph: Dict[str, List[tuple]] = {}
        for (parent, child), msg in self._edges.items():
            T = transform_to_matrix(msg.transform)
            graph.setdefault(parent, []).append((child, T))
            graph.setdefault(child, []).append((parent, invert_transform(T)))
        found = {target_frame: np.eye(4)}  # found[f] = T_target_f
        queue = deque([target_frame])
        while queue:
            frame = queue.popleft()
            for other, T_frame_other in graph.get(frame, []):
                if other not in found:
                    found[other] = found[frame] @ T_frame_other
                    queue.append(other)
        if source_frame not in graph or target_frame not in graph:
            missing = source_frame if source_frame not in graph else target_frame
            raise LookupException(f'"{missing}" passed to lookupTransform argument '
                                  f'{"source" if missing == source_frame else "target"}_frame '
                                  f'does not exist. ')
        if source_frame not in found:
            raise ConnectivityException(f'Could not find a connection between '
                                        f'\'{target_frame}\' and \'{source_frame}\' because '
                                        f'they are not part of the same tree.')
        return matrix_to_transform_stamped(found[source_frame], max(time.nanoseconds, 0),
                                           target_frame, source_frame,
                                           MessageTypes.from_rosbags())


class TransformListener:
    def __init__(self, buffer: Buffer, node: Node, *, spin_thread: bool = False,
                 qos: Any = None, static_qos: Any = None, tf_topic: str = '/tf',
                 tf_static_topic: str = '/tf_static', static_only: bool = False) -> None:
        from tf2_msgs.msg import TFMessage
        self.buffer, self.node = buffer, node
        if not static_only:
            self.tf_sub = node.create_subscription(
                TFMessage, tf_topic, self.callback,
                qos or QoSProfile(depth=100, durability=DurabilityPolicy.VOLATILE,
                                  history=HistoryPolicy.KEEP_LAST))
        self.tf_static_sub = node.create_subscription(
            TFMessage, tf_static_topic, self.static_callback,
            static_qos or QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                                     history=HistoryPolicy.KEEP_LAST))

    def unregister(self) -> None:
        if hasattr(self, 'tf_sub'):
            self.node.destroy_subscription(self.tf_sub)
        self.node.destroy_subscription(self.tf_static_sub)

    def callback(self, data: Any) -> None:
        for transform in data.transforms:
            self.buffer.set_transform(transform, 'default_authority')

    def static_callback(self, data: Any) -> None:
        for transform in data.transforms:
            self.buffer.set_transform_static(transform, 'default_authority')
