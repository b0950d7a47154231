"""Poses (4x4 ``T_parent_child``) <-> geometry_msgs Transform / Pose, and the REP 105 chain.

Quaternions are xyzw (ROS order). Rotations are orthonormalised before conversion, because an
aligned pose may carry numerical drift.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from align3r_ros.errors import ConversionError
from align3r_ros.messages.header import make_header
from align3r_ros.messages.types import MessageTypes

#: camera_link -> camera_optical_frame rotation, xyzw (REP 103).
Q_LINK_OPTICAL_XYZW = np.array([-0.5, 0.5, -0.5, 0.5])


def _check_pose(T: np.ndarray, name: str) -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ConversionError(f'{name} must be a finite (4, 4) transform, got shape {T.shape}')
    return T


def matrix_to_quaternion_xyzw(R: np.ndarray) -> np.ndarray:
    """(3, 3) rotation (orthonormalised by SVD) -> (4,) unit quaternion xyzw with w >= 0."""
    from scipy.spatial.transform import Rotation

    U, _, Vt = np.linalg.svd(np.asarray(R, dtype=np.float64))
    R_ortho = U @ Vt
    if np.linalg.det(R_ortho) < 0:
        raise ConversionError('rotation has a negative determinant (a reflection)')
    q = Rotation.from_matrix(R_ortho).as_quat()
    return q if q[3] >= 0 else -q


def quaternion_xyzw_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    """(4,) quaternion xyzw (normalised here) -> (3, 3) rotation."""
    from scipy.spatial.transform import Rotation

    q = np.asarray(q_xyzw, dtype=np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-12:
        raise ConversionError(f'quaternion {q.tolist()} has no direction')
    return Rotation.from_quat(q / norm).as_matrix()


def matrix_to_transform(T_parent_child: np.ndarray, types: MessageTypes) -> Any:
    """(4, 4) transform -> geometry_msgs/Transform."""
    T = _check_pose(T_parent_child, 'T_parent_child')
    x, y, z, w = matrix_to_quaternion_xyzw(T[:3, :3])
    t = T[:3, 3]
    return types.Transform(
        translation=types.Vector3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
        rotation=types.Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)))


def matrix_to_pose(T_parent_child: np.ndarray, types: MessageTypes) -> Any:
    """(4, 4) transform -> geometry_msgs/Pose (the child's pose in the parent frame)."""
    T = _check_pose(T_parent_child, 'T_parent_child')
    x, y, z, w = matrix_to_quaternion_xyzw(T[:3, :3])
    t = T[:3, 3]
    return types.Pose(position=types.Point(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                      orientation=types.Quaternion(x=float(x), y=float(y), z=float(z),
                                                   w=float(w)))


def transform_to_matrix(transform: Any) -> np.ndarray:
    """geometry_msgs/Transform (or a TransformStamped's .transform) -> (4, 4) T_parent_child."""
    t, q = transform.translation, transform.rotation
    T = np.eye(4)
    T[:3, :3] = quaternion_xyzw_to_matrix([q.x, q.y, q.z, q.w])
    T[:3, 3] = [t.x, t.y, t.z]
    return T


def pose_to_matrix(pose: Any) -> np.ndarray:
    """geometry_msgs/Pose -> (4, 4) T_parent_child."""
    p, q = pose.position, pose.orientation
    T = np.eye(4)
    T[:3, :3] = quaternion_xyzw_to_matrix([q.x, q.y, q.z, q.w])
    T[:3, 3] = [p.x, p.y, p.z]
    return T


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


def invert_transform(T_a_b: np.ndarray) -> np.ndarray:
    """Inverse of a rigid (4, 4) transform: T_b_a."""
    T = np.asarray(T_a_b, dtype=np.float64)
    T_inv = np.eye(4)
    T_inv[:3, :3] = T[:3, :3].T
    T_inv[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return T_inv


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
