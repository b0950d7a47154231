"""The message classes a conversion needs, injected by the caller.

rclpy and rosbags classes share field names and keyword constructors; they differ only in how
array fields are held. ``uint8[]`` is ``array.array('B')`` in rclpy (its fast path) and a numpy
uint8 array in rosbags; ``float64[]`` / ``float64[N]`` take Python float lists in rclpy and numpy
float64 arrays in rosbags. The two adapters ``byte_array`` and ``float_array`` hide that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

#: (message attribute, ROS type name) of every class a conversion builds.
MESSAGE_NAMES = (
    ('Header', 'std_msgs/msg/Header'),
    ('Time', 'builtin_interfaces/msg/Time'),
    ('Image', 'sensor_msgs/msg/Image'),
    ('CompressedImage', 'sensor_msgs/msg/CompressedImage'),
    ('CameraInfo', 'sensor_msgs/msg/CameraInfo'),
    ('RegionOfInterest', 'sensor_msgs/msg/RegionOfInterest'),
    ('PointField', 'sensor_msgs/msg/PointField'),
    ('PointCloud2', 'sensor_msgs/msg/PointCloud2'),
    ('TransformStamped', 'geometry_msgs/msg/TransformStamped'),
    ('Transform', 'geometry_msgs/msg/Transform'),
    ('Vector3', 'geometry_msgs/msg/Vector3'),
    ('Quaternion', 'geometry_msgs/msg/Quaternion'),
    ('TFMessage', 'tf2_msgs/msg/TFMessage'),
    ('Odometry', 'nav_msgs/msg/Odometry'),
    ('Path', 'nav_msgs/msg/Path'),
    ('PoseStamped', 'geometry_msgs/msg/PoseStamped'),
    ('Pose', 'geometry_msgs/msg/Pose'),
    ('PoseWithCovariance', 'geometry_msgs/msg/PoseWithCovariance'),
    ('TwistWithCovariance', 'geometry_msgs/msg/TwistWithCovariance'),
    ('Twist', 'geometry_msgs/msg/Twist'),
    ('Point', 'geometry_msgs/msg/Point'),
    ('DiagnosticArray', 'diagnostic_msgs/msg/DiagnosticArray'),
    ('DiagnosticStatus', 'diagnostic_msgs/msg/DiagnosticStatus'),
    ('KeyValue', 'diagnostic_msgs/msg/KeyValue'),
)


def numpy_byte_array(values: np.ndarray) -> np.ndarray:
    """rosbags ``uint8[]``: the raw bytes of a contiguous array as a flat uint8 array (no copy)."""
    return np.ascontiguousarray(values).reshape(-1).view(np.uint8)


def numpy_float_array(values: Any) -> np.ndarray:
    """rosbags ``float64[]`` / ``float64[N]``: a flat float64 array."""
    return np.asarray(values, dtype=np.float64).reshape(-1).copy()


@dataclass(frozen=True)
class MessageTypes:
    """Message classes plus the two array adapters of one transport.

    Attributes:
        Header ... KeyValue: the message classes (keyword-constructible).
        byte_array: contiguous numpy array -> this transport's ``uint8[]`` value (raw bytes).
        float_array: float sequence -> this transport's ``float64[]`` / ``float64[N]`` value.
    """

    Header: type
    Time: type
    Image: type
    CompressedImage: type
    CameraInfo: type
    RegionOfInterest: type
    PointField: type
    PointCloud2: type
    TransformStamped: type
    Transform: type
    Vector3: type
    Quaternion: type
    TFMessage: type
    Odometry: type
    Path: type
    PoseStamped: type
    Pose: type
    PoseWithCovariance: type
    TwistWithCovariance: type
    Twist: type
    Point: type
    DiagnosticArray: type
    DiagnosticStatus: type
    KeyValue: type
    byte_array: Callable[[np.ndarray], Any]
    float_array: Callable[[Any], Any]

    @classmethod
    def from_rosbags(cls, typestore: Any = None) -> 'MessageTypes':
        """Classes of a ``rosbags`` typestore (default: ROS 2 Humble).

        Args:
            typestore: ``rosbags.typesys.get_typestore(...)`` result, or None for Humble.
        """
        if typestore is None:
            from rosbags.typesys import Stores, get_typestore
            typestore = get_typestore(Stores.ROS2_HUMBLE)
        classes = {attr: typestore.types[name] for attr, name in MESSAGE_NAMES}
        return cls(**classes, byte_array=numpy_byte_array, float_array=numpy_float_array)
