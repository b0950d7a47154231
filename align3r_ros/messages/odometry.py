"""nav_msgs/Odometry, PoseStamped and a bounded nav_msgs/Path."""

from __future__ import annotations

from collections import deque
from typing import Any, Deque, Optional

import numpy as np

from align3r_ros.messages.header import make_header
from align3r_ros.messages.transforms import matrix_to_pose
from align3r_ros.messages.types import MessageTypes


def pose_to_odometry_msg(T_world_child: np.ndarray, stamp_ns: int, world_frame: str,
                         child_frame: str, types: MessageTypes,
                         pose_covariance: Optional[np.ndarray] = None) -> Any:
    """(4, 4) pose of ``child_frame`` in ``world_frame`` -> nav_msgs/Odometry.

    The twist is left zero with covariance -1 on the diagonal (unknown); the pose covariance is
    ``pose_covariance`` (6, 6) when given, else zero (unknown is stated in the README).
    """
    cov = np.zeros(36) if pose_covariance is None else np.asarray(pose_covariance).reshape(-1)
    twist_cov = np.zeros((6, 6))
    np.fill_diagonal(twist_cov, -1.0)
    zero = types.Vector3(x=0.0, y=0.0, z=0.0)
    return types.Odometry(
        header=make_header(stamp_ns, world_frame, types), child_frame_id=str(child_frame),
        pose=types.PoseWithCovariance(pose=matrix_to_pose(T_world_child, types),
                                      covariance=types.float_array(cov)),
        twist=types.TwistWithCovariance(twist=types.Twist(linear=zero, angular=zero),
                                        covariance=types.float_array(twist_cov.reshape(-1))))


def pose_to_pose_stamped(T_world_child: np.ndarray, stamp_ns: int, world_frame: str,
                         types: MessageTypes) -> Any:
    """(4, 4) pose in ``world_frame`` -> geometry_msgs/PoseStamped."""
    return types.PoseStamped(header=make_header(stamp_ns, world_frame, types),
                             pose=matrix_to_pose(T_world_child, types))


class BoundedPath:
    """The last ``max_length`` poses of one world as nav_msgs/Path.

    The path restarts when the engine resets its world (``FrameResult.world_id`` changes: a
    stamp went backwards, the image size changed): poses of two worlds are not comparable.
    """

    def __init__(self, max_length: int) -> None:
        self._poses: Deque[Any] = deque(maxlen=max(int(max_length), 1))
        self._world_id: Optional[int] = None

    def __len__(self) -> int:
        return len(self._poses)

    @property
    def max_length(self) -> int:
        return int(self._poses.maxlen)

    def set_max_length(self, max_length: int) -> None:
        """Change the bound, keeping the newest poses."""
        self._poses = deque(self._poses, maxlen=max(int(max_length), 1))

    def clear(self) -> None:
        self._poses.clear()
        self._world_id = None

    def add(self, pose_stamped: Any, *, world_id: int) -> None:
        """Append a PoseStamped of world ``world_id``; a new world starts the path anew."""
        if self._world_id is not None and int(world_id) != self._world_id:
            self._poses.clear()
        self._poses.append(pose_stamped)
        self._world_id = int(world_id)

    def to_msg(self, stamp_ns: int, world_frame: str, types: MessageTypes) -> Any:
        """nav_msgs/Path of the kept poses, stamped ``stamp_ns`` in ``world_frame``."""
        return types.Path(header=make_header(stamp_ns, world_frame, types),
                          poses=list(self._poses))
