"""TF, output QoS and sim time on real rclpy + tf2_ros, checked from a second node."""

from __future__ import annotations

import numpy as np
import pytest

from .ros_rig import STEP, T0

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')
tf2_ros = pytest.importorskip('tf2_ros', reason='needs tf2_ros (source .ci/ros2_env.sh)')

from rclpy.time import Time  # noqa: E402


def _stamp(header) -> int:
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)


def test_output_qos_as_seen_from_a_second_node(rig_factory):
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
    rig = rig_factory()
    rig.start()
    graph = rig.peer
    outputs = ('/align3r/depth/image', '/align3r/points', '/align3r/odometry')
    # the peer's graph cache learns of endpoints through discovery: wait until it holds all
    rig.spin_until(lambda: graph.get_publishers_info_by_topic('/tf') and
                   graph.get_subscriptions_info_by_topic('/tf_static') and
                   all(graph.get_publishers_info_by_topic(t) for t in outputs), what='graph')
    tf, = graph.get_publishers_info_by_topic('/tf')
    assert tf.node_name == 'align3r'
    assert tf.qos_profile.reliability == ReliabilityPolicy.RELIABLE  # tf2's broadcaster QoS
    assert tf.qos_profile.durability == DurabilityPolicy.VOLATILE  # (depth is not on the wire)
    static, = graph.get_subscriptions_info_by_topic('/tf_static')
    assert static.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert static.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    for topic in outputs:
        info, = graph.get_publishers_info_by_topic(topic)
        assert info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        assert info.qos_profile.durability == DurabilityPolicy.VOLATILE


@pytest.mark.parametrize('camera_reliable', [True, False], ids=['reliable', 'best_effort'])
def test_best_available_input_matches_the_camera(rig_factory, camera_reliable):
    from rclpy.qos import ReliabilityPolicy
    rig = rig_factory(camera_reliable=camera_reliable)
    rig.start()  # waits until the node's subscription matches the camera's reliability
    expected = ReliabilityPolicy.RELIABLE if camera_reliable else ReliabilityPolicy.BEST_EFFORT

    def node_subscriptions():
        return [i for i in rig.peer.get_subscriptions_info_by_topic('/image')
                if i.node_name == 'align3r']
    # the peer's graph view lags (discovery): wait until it shows the node's one subscription
    # with the expected reliability (a re-matched subscription replaces the earlier one)
    rig.spin_until(lambda: [i.qos_profile.reliability for i in node_subscriptions()]
                   == [expected], what="the node's /image subscription in the graph")
    info, = node_subscriptions()
    assert info.qos_profile.reliability == expected
    depth = rig.listen('/align3r/depth/image', rig.types.Image)
    rig.wait_matched()
    rig.send_and_wait(T0)
    rig.spin_until(lambda: len(depth) == 1)


def test_a_second_node_looks_up_world_to_camera_at_each_image_stamp(rig_factory):
    rig = rig_factory()
    buffer = tf2_ros.Buffer()
    tf2_ros.TransformListener(buffer, rig.peer)
    rig.start()
    stamps = [T0 + i * STEP for i in range(3)]
    for stamp in stamps:
        rig.send_and_wait(stamp)
    rig.spin_until(lambda: all(buffer.can_transform('align3r_world', 'cam_optical',
                                                    Time(nanoseconds=s)) for s in stamps),
                   what='world -> camera at every stamp')
    for i, stamp in enumerate(stamps):
        t = buffer.lookup_transform('align3r_world', 'cam_optical', Time(nanoseconds=stamp))
        assert _stamp(t.header) == stamp
        assert t.transform.translation.x == pytest.approx(0.1 * (i + 1))  # FakeEngine's pose


def test_direct_mode_never_gives_a_second_parent(rig_factory):
    from align3r_ros.messages.transforms import matrix_to_transform_stamped
    rig = rig_factory()
    static = tf2_ros.StaticTransformBroadcaster(rig.peer)
    static.sendTransform(matrix_to_transform_stamped(np.eye(4), 0, 'camera_link', 'cam_optical',
                                                     rig.types))
    tf = rig.listen('/tf', rig.types.TFMessage)
    depth = rig.listen('/align3r/depth/image', rig.types.Image)
    rig.start()
    rig.spin_until(lambda: 'cam_optical' in rig.node._outputs._static_parents,
                   what='/tf_static taken')
    rig.send_and_wait(T0)
    rig.spin_until(lambda: len(depth) == 1)
    assert tf == []  # published after depth in the same call: none came


def test_rep105_composes_with_a_real_odom_to_base_publisher(rig_factory, context):
    from align3r_ros.messages.transforms import matrix_to_transform_stamped, transform_to_matrix
    robot = rclpy.create_node('robot', context=context)
    try:
        rig = rig_factory(overrides=[('frames.tf_mode', 'rep105')])
        rig.executor.add_node(robot)
        odom_tf = tf2_ros.TransformBroadcaster(robot)
        static = tf2_ros.StaticTransformBroadcaster(robot)
        T_base_cam = np.array([[0, 0, 1, 0.2], [-1, 0, 0, 0], [0, -1, 0, 0.5], [0, 0, 0, 1.0]])
        static.sendTransform(matrix_to_transform_stamped(T_base_cam, 0, 'base_link',
                                                         'cam_optical', rig.types))
        buffer = tf2_ros.Buffer()
        tf2_ros.TransformListener(buffer, rig.peer)
        odometry = rig.listen('/align3r/odometry', rig.types.Odometry)
        rig.start()
        # /tf is volatile: a transform sent before a listener matched its broadcaster is lost.
        # Both broadcasters (the robot's, the node's) must be matched by both listeners (the
        # node's own, for rep105, and this test's), and the static base -> camera must be in.
        rig.spin_until(lambda: odom_tf.pub_tf.get_subscription_count() >= 2
                       and rig.node._outputs.tf.pub_tf.get_subscription_count() >= 2,
                       what='/tf broadcasters matched by both listeners')
        rig.spin_until(lambda: rig.node._tf_buffer.can_transform('base_link', 'cam_optical',
                                                                  Time()),
                       what='the static base -> camera at the node')
        stamps = [T0 + i * STEP for i in range(3)]
        for i, stamp in enumerate(stamps):
            T_odom_base = np.eye(4)
            T_odom_base[:3, 3] = [1.0 + i, 2.0, 0.0]
            odom_tf.sendTransform(matrix_to_transform_stamped(T_odom_base, stamp, 'odom',
                                                              'base_link', rig.types))
            rig.spin_until(lambda s=stamp: rig.node._tf_buffer.can_transform(
                'odom', 'base_link', Time(nanoseconds=s)), what='odom -> base at the node')
            rig.send_and_wait(stamp)
        rig.spin_until(lambda: len(odometry) == 3 and all(buffer.can_transform(
            'align3r_world', 'cam_optical', Time(nanoseconds=s)) for s in stamps),
            what='world -> odom -> base -> camera at every stamp')
        for i, stamp in enumerate(stamps):
            t = buffer.lookup_transform('align3r_world', 'cam_optical', Time(nanoseconds=stamp))
            T_world_cam = np.eye(4)
            T_world_cam[0, 3] = 0.1 * (i + 1)  # FakeEngine's pose of frame i
            np.testing.assert_allclose(transform_to_matrix(t.transform), T_world_cam,
                                       atol=1e-9)
            assert odometry[i].child_frame_id == 'base_link'
    finally:
        robot.destroy_node()


def test_sim_time_outputs_carry_image_stamps_and_diagnostics_follow_clock(rig_factory):
    from rclpy.qos import QoSProfile
    from rosgraph_msgs.msg import Clock
    rig = rig_factory(overrides=[('use_sim_time', True)])
    clock = rig.peer.create_publisher(Clock, '/clock', QoSProfile(depth=10))
    diagnostics = rig.listen('/diagnostics', rig.types.DiagnosticArray)
    depth = rig.listen('/align3r/depth/image', rig.types.Image)
    sim_s = 100

    def tick(seconds: float) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = int(seconds), int(round(seconds % 1 * 1e9))
        clock.publish(msg)
    tick(sim_s)
    rig.spin_until(lambda: rig.node.get_clock().now().nanoseconds == sim_s * 10**9,
                   what='the node on /clock')
    rig.start()
    rig.send_and_wait(T0)  # image stamps are not the clock
    rig.spin_until(lambda: len(depth) == 1)
    assert _stamp(depth[0].header) == T0
    before = len(diagnostics)
    tick(sim_s + 0.5)  # half a simulated second: the 1 s diagnostics timer must not fire
    rig.spin_until(lambda: rig.node.get_clock().now().nanoseconds == (sim_s * 10**9 +
                                                                       500_000_000))
    for _ in range(20):
        rig.executor.spin_once(timeout_sec=0.01)
    assert len(diagnostics) == before
    tick(sim_s + 1.5)  # a simulated second after activation passed: it fires, stamped sim time
    rig.spin_until(lambda: len(diagnostics) > before, what='diagnostics on simulated time')
    assert _stamp(diagnostics[-1].header) == (sim_s + 1) * 10**9 + 500_000_000
