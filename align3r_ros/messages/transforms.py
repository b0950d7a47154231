"""Poses (4x4 ``T_parent_child``) <-> geometry_msgs Transform / Pose, and the REP 105 chain.

Quaternions are xyzw (ROS order). Rotations are orthonormalised before conversion, because an
aligned pose may carry numerical drift. The geometry itself (quaternions, inverse) is
``align3r_ros.geometry``; this module only fills and reads messages.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from align3r_ros.errors import ConversionError, InputError
from align3r_ros.geometry.quaternion import (matrix_to_quaternion, orthonormalise_rotation,
                                             quaternion_to_matrix)
from align3r_ros.geometry.se3 import invert_transform, make_transform
from align3r_ros.messages.header import header_stamp_ns, make_header
from align3r_ros.messages.types import MessageTypes

#: camera_link -> camera_optical_frame rotation, xyzw (REP 103).
Q_LINK_OPTICAL_XYZW = np.array([-0.5, 0.5, -0.5, 0.5])


def _check_pose(T: np.ndarray, name: str) -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ConversionError(f'{name} must be a finite (4, 4) transform, got shape {T.shape}')
    return T


def _quaternion_msg(R: np.ndarray, types: MessageTypes) -> Any:
    """(3, 3) rotation (orthonormalised: an aligned pose may drift) -> geometry_msgs/Quaternion
    xyzw with w >= 0."""
    try:
        x, y, z, w = matrix_to_quaternion(orthonormalise_rotation(R))
    except InputError as exc:
        raise ConversionError(str(exc)) from None
    return types.Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))


def _rotation_of(q: Any) -> np.ndarray:
    """geometry_msgs/Quaternion (normalised here) -> (3, 3) rotation."""
    try:
        return quaternion_to_matrix(np.array([q.x, q.y, q.z, q.w], dtype=np.float64))
    except InputError as exc:
        raise ConversionError(str(exc)) from None


def matrix_to_transform(T_parent_child: np.ndarray, types: MessageTypes) -> Any:
    """(4, 4) transform -> geometry_msgs/Transform."""
    T = _check_pose(T_parent_child, 'T_parent_child')
    t = T[:3, 3]
    return types.Transform(
        translation=types.Vector3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
        rotation=_quaternion_msg(T[:3, :3], types))


def matrix_to_pose(T_parent_child: np.ndarray, types: MessageTypes) -> Any:
    """(4, 4) transform -> geometry_msgs/Pose (the child's pose in the parent frame)."""
    T = _check_pose(T_parent_child, 'T_parent_child')
    t = T[:3, 3]
    return types.Pose(position=types.Point(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                      orientation=_quaternion_msg(T[:3, :3], types))


def transform_to_matrix(transform: Any) -> np.ndarray:
    """geometry_msgs/Transform (or a TransformStamped's .transform) -> (4, 4) T_parent_child."""
    t = transform.translation
    return make_transform(_rotation_of(transform.rotation), [t.x, t.y, t.z])


def pose_to_matrix(pose: Any) -> np.ndarray:
    """geometry_msgs/Pose -> (4, 4) T_parent_child."""
    p = pose.position
    return make_transform(_rotation_of(pose.orientation), [p.x, p.y, p.z])


def stamped_poses(msg: Any, tf_child_frame: Optional[str] = None) -> List[Tuple[int, np.ndarray]]:
    """(stamp_ns, T_parent_child) pairs of one pose-carrying message.

    tf2_msgs/TFMessage: its transforms whose child is ``tf_child_frame`` (leading '/' ignored;
    none when it is None); TransformStamped; nav_msgs/Odometry, PoseWithCovarianceStamped and
    PoseStamped: the message's pose in its header frame.
    """
    if hasattr(msg, 'transforms'):  # tf2_msgs/TFMessage
        wanted = tf_child_frame.lstrip('/') if tf_child_frame else None
        return [(header_stamp_ns(t.header), transform_to_matrix(t.transform))
                for t in msg.transforms if t.child_frame_id.lstrip('/') == wanted]
    if hasattr(msg, 'transform'):  # TransformStamped
        return [(header_stamp_ns(msg.header), transform_to_matrix(msg.transform))]
    pose = msg.pose
    if hasattr(pose, 'pose'):  # Odometry, PoseWithCovarianceStamped
        pose = pose.pose
    return [(header_stamp_ns(msg.header), pose_to_matrix(pose))]


def matrix_to_transform_stamped(T_parent_child: np.ndarray, stamp_ns: int, parent_frame: str,
                                child_frame: str, types: MessageTypes) -> Any:
    """(4, 4) transform -> geometry_msgs/TransformStamped parent_frame -> child_frame.

    Raises:
        ConversionError: empty or equal frame ids, or a non-finite transform.
    """
    if not parent_frame or not child_frame or parent_frame == child_frame:
        raise ConversionError(f'TF needs two distinct frames, got {parent_frame!r} -> '
                              f'{child_frame!r}')
    return types.TransformStamped(header=make_header(stamp_ns, parent_frame, types),
                                  child_frame_id=str(child_frame),
                                  transform=matrix_to_transform(T_parent_child, types))


def world_to_odom(T_world_cam: np.ndarray, T_odom_base: np.ndarray,
                  T_base_cam: np.ndarray) -> np.ndarray:
    """REP 105 mode: the world -> odom transform that places the camera at ``T_world_cam``.

    With the robot's own odometry ``T_odom_base`` (looked up at the image stamp) and the static
    extrinsic ``T_base_cam`` (base -> camera optical frame), publishing
    ``T_world_odom = T_world_cam @ inv(T_base_cam) @ inv(T_odom_base)`` keeps every existing
    frame's single parent: world -> odom -> base -> ... -> camera.
    """
    T_world_cam = _check_pose(T_world_cam, 'T_world_cam')
    T_odom_base = _check_pose(T_odom_base, 'T_odom_base')
    T_base_cam = _check_pose(T_base_cam, 'T_base_cam')
    return T_world_cam @ invert_transform(T_base_cam) @ invert_transform(T_odom_base)
