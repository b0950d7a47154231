"""rclpy's generated message classes as a :class:`MessageTypes`.

rclpy's ``uint8[]`` setter takes ``array.array('B')`` without a per-element check (its fast
path); float arrays take plain Python float lists (accepted by both ``float64[N]`` and
``float64[]`` setters).
"""

from __future__ import annotations

import array
from typing import Any, List

import numpy as np

from align3r_ros.messages.types import MessageTypes


def array_byte_array(values: np.ndarray) -> array.array:
    """Raw bytes of a contiguous numpy array as ``array.array('B')`` (one copy)."""
    out = array.array('B')
    out.frombytes(np.ascontiguousarray(values).reshape(-1).view(np.uint8))
    return out


def list_float_array(values: Any) -> List[float]:
    """A flat list of Python floats."""
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def rclpy_message_types() -> MessageTypes:
    """The message classes of the sourced ROS 2 installation."""
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from geometry_msgs.msg import (
        Point,
        Pose,
        PoseStamped,
        PoseWithCovariance,
        Quaternion,
        Transform,
        TransformStamped,
        Twist,
        TwistWithCovariance,
        Vector3,
    )
    from nav_msgs.msg import Odometry, Path
    from sensor_msgs.msg import (
        CameraInfo,
        CompressedImage,
        Image,
        PointCloud2,
        PointField,
        RegionOfInterest,
    )
    from std_msgs.msg import Header
    from tf2_msgs.msg import TFMessage

    return MessageTypes(
        Header=Header, Time=Time, Image=Image, CompressedImage=CompressedImage,
        CameraInfo=CameraInfo, RegionOfInterest=RegionOfInterest, PointField=PointField,
        PointCloud2=PointCloud2, TransformStamped=TransformStamped, Transform=Transform,
        Vector3=Vector3, Quaternion=Quaternion, TFMessage=TFMessage, Odometry=Odometry,
        Path=Path, PoseStamped=PoseStamped, Pose=Pose, PoseWithCovariance=PoseWithCovariance,
        TwistWithCovariance=TwistWithCovariance, Twist=Twist, Point=Point,
        DiagnosticArray=DiagnosticArray, DiagnosticStatus=DiagnosticStatus, KeyValue=KeyValue,
        byte_array=array_byte_array, float_array=list_float_array)
