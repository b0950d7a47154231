"""Message contents as pure functions; the message classes are injected (:class:`MessageTypes`).

One conversion code path, two transports: rclpy's generated classes in the node
(:mod:`align3r_ros.ros.message_types`) and the ``rosbags`` typestore classes in the bag tools
(:meth:`MessageTypes.from_rosbags`). Nothing here imports rclpy or a message package.
"""

from __future__ import annotations

from align3r_ros.messages.types import MessageTypes

__all__ = ['MessageTypes']
