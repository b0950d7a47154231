"""The stand-in behaves like the real rclpy / tf2_ros where align3r_ros.ros relies on it.

Each expectation is the real behaviour read from the sources cited in ``standin.py`` /
``standin_tf2.py`` (ros2/rclpy ``rclpy/rclpy/qos.py``, ``time.py``, ``__init__.py``; ros2/rmw
``qos_profiles.h``; ros2/geometry2 ``tf2_ros_py/tf2_ros/*.py``).
"""

from __future__ import annotations

import numpy as np
import pytest


def test_qos_profile_rules(ros):
    qos = ros.QoSProfile(depth=7)
    assert (qos.history, qos.depth, qos.reliability, qos.durability) == (
        ros.HistoryPolicy.KEEP_LAST, 7, ros.ReliabilityPolicy.RELIABLE,
        ros.DurabilityPolicy.VOLATILE)
    assert ros.QoSProfile(history=ros.HistoryPolicy.KEEP_ALL).depth == 10  # rmw default
    with pytest.raises(ros.InvalidQoSProfileException):
        ros.QoSProfile(reliability=ros.ReliabilityPolicy.RELIABLE)
    with pytest.raises(ros.InvalidQoSProfileException):
        ros.QoSProfile(history=ros.HistoryPolicy.KEEP_LAST)
    with pytest.raises(AssertionError):
        ros.QoSProfile(depth=5, reliablity=ros.ReliabilityPolicy.RELIABLE)  # typo
    with pytest.raises(AssertionError):
        ros.QoSProfile(depth=5.0)
    sensor = ros.qos_profile_sensor_data
    assert (sensor.history, sensor.depth, sensor.reliability, sensor.durability) == (
        ros.HistoryPolicy.KEEP_LAST, 5, ros.ReliabilityPolicy.BEST_EFFORT,
        ros.DurabilityPolicy.VOLATILE)
    assert [int(p) for p in (ros.ReliabilityPolicy.RELIABLE, ros.ReliabilityPolicy.BEST_EFFORT,
                             ros.DurabilityPolicy.TRANSIENT_LOCAL,
                             ros.DurabilityPolicy.VOLATILE)] == [1, 2, 1, 2]


def test_time_and_duration(ros):
    import rclpy.time
    from rclpy.duration import Duration
    from rclpy.time import Time

    stamp = 1_700_000_000_123_456_789
    t = Time(nanoseconds=stamp)
    assert t.nanoseconds == stamp and t.clock_type == rclpy.time.ClockType.SYSTEM_TIME
    assert t.seconds_nanoseconds() == (1_700_000_000, 123_456_789)
    msg = t.to_msg()
    assert (msg.sec, msg.nanosec) == (1_700_000_000, 123_456_789)
    with pytest.raises(TypeError):
        Time(nanoseconds=1, clock_type=None)
    with pytest.raises(ValueError):
        Time(nanoseconds=-1)
    assert Duration(seconds=-0.5).nanoseconds == -500_000_000
    assert Duration(seconds=0.05) == Duration(nanoseconds=50_000_000)
    assert ros.Node('clock_probe').get_clock().now().clock_type == \
        rclpy.time.ClockType.ROS_TIME


def test_init_and_shutdown_are_keyword_only(ros):
    import rclpy

    rclpy.init(args=None)
    with pytest.raises(TypeError):
        rclpy.init(None)
    rclpy.try_shutdown()
    with pytest.raises(TypeError):
        rclpy.shutdown(None)


def test_tf_buffer_listener_broadcaster(ros):
    import tf2_ros
    from rclpy.time import Time

    from align3r_ros.messages import MessageTypes
    from align3r_ros.messages.transforms import matrix_to_transform_stamped, transform_to_matrix

    types = MessageTypes.from_rosbags()
    node = ros.Node('tf_probe')
    buffer = tf2_ros.Buffer()
    listener = tf2_ros.TransformListener(buffer, node)
    broadcaster = tf2_ros.TransformBroadcaster(node)
    T_a_b = np.eye(4)
    T_a_b[:3, 3] = [1.0, 2.0, 3.0]
    T_c_d = np.eye(4)
    # a tuple of transforms is one message, as in tf2_ros (any iterable becomes a list)
    broadcaster.sendTransform((matrix_to_transform_stamped(T_a_b, 5, 'a', 'b', types),
                               matrix_to_transform_stamped(T_c_d, 5, 'c', 'd', types)))
    assert len(broadcaster.pub_tf.published[-1].transforms) == 2
    for _ in range(3):
        ros.spin_once(node, timeout_sec=0.0)
    found = buffer.lookup_transform('a', 'b', Time(nanoseconds=5))
    np.testing.assert_allclose(transform_to_matrix(found.transform), T_a_b)
    with pytest.raises(tf2_ros.LookupException):
        buffer.lookup_transform('a', 'nowhere', Time())
    with pytest.raises(tf2_ros.ConnectivityException):
        buffer.lookup_transform('a', 'd', Time())
    assert issubclass(tf2_ros.ExtrapolationException, tf2_ros.TransformException)
    listener.unregister()
    assert node.subscriptions == []
