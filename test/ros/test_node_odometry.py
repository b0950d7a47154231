"""The node's odometry input on real rclpy + tf2_ros: a robot node publishes odom -> base_link
(on /tf, or as nav_msgs/Odometry) and a static base_link -> camera; the engine receives the
camera's pose in the odometry frame at each image stamp (``Frame.T_odom_cam``). A frame without
odometry goes on (pushed, counted, reported in /diagnostics). With the real engine (oracle
backend) the node's published poses are metres in the odometry's frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from support.fake_engine import EngineFactory, FakeEngine
from .ros_rig import STEP, T0

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')
tf2_ros = pytest.importorskip('tf2_ros', reason='needs tf2_ros (source .ci/ros2_env.sh)')

from rclpy.time import Time  # noqa: E402

#: base_link -> camera optical frame (x forward robot = z optical), 0.2 m ahead, 0.5 m up.
T_BASE_CAM = np.array([[0, 0, 1, 0.2], [-1, 0, 0, 0], [0, -1, 0, 0.5], [0, 0, 0, 1.0]])


class RecordingEngine(FakeEngine):
    """FakeEngine that keeps each pushed frame's odometry and reports, as the live engine does,
    its scale source and a disagreement count in its stats."""

    def __init__(self) -> None:
        super().__init__()
        self.odometry = []

    def push(self, frame):
        self.odometry.append(frame.T_odom_cam)
        results = super().push(frame)
        with_odometry = sum(T is not None for T in self.odometry)
        self.stats = dataclasses.replace(
            self.stats, frames_out=len(self.odometry), odometry_frames=with_odometry,
            scale_source='odometry' if with_odometry else 'none',
            odometry_disagreements=len(self.odometry) - with_odometry)
        return results


def _T_odom_base(x: float, yaw: float = 0.0) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    T = np.eye(4)
    T[:2, :2] = [[c, -s], [s, c]]
    T[:3, 3] = [x, 2.0, 0.0]
    return T


def _robot(rig, context):
    from align3r_ros.messages.transforms import matrix_to_transform_stamped
    robot = rclpy.create_node('robot', context=context)
    rig.executor.add_node(robot)
    static = tf2_ros.StaticTransformBroadcaster(robot)
    static.sendTransform(matrix_to_transform_stamped(T_BASE_CAM, 0, 'base_link', 'cam_optical',
                                                     rig.types))
    return robot


def _engine(rig) -> RecordingEngine:
    return rig.factory.built[-1]


def _wait_static(rig) -> None:
    rig.spin_until(lambda: rig.node._tf_buffer.can_transform('base_link', 'cam_optical',
                                                              Time()),
                   what='the static base -> camera at the node')


def test_tf_mode_gives_each_frame_its_camera_pose_in_odom(rig_factory, context):
    from align3r_ros.messages.transforms import matrix_to_transform_stamped
    rig = rig_factory(overrides=[('input.odometry', 'tf'), ('frames.tf_mode', 'none')],
                      factory=EngineFactory(RecordingEngine))
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    robot = _robot(rig, context)
    try:
        odom_tf = tf2_ros.TransformBroadcaster(robot)
        rig.start()
        rig.spin_until(lambda: odom_tf.pub_tf.get_subscription_count() >= 1,
                       what='/tf broadcaster matched by the node')
        _wait_static(rig)
        stamps = [T0 + i * STEP for i in range(3)]
        for i, stamp in enumerate(stamps):
            odom_tf.sendTransform(matrix_to_transform_stamped(
                _T_odom_base(1.0 + 0.1 * i, 0.05 * i), stamp, 'odom', 'base_link', rig.types))
            rig.spin_until(lambda s=stamp: rig.node._tf_buffer.can_transform(
                'odom', 'base_link', Time(nanoseconds=s)), what='odom -> base at the node')
            rig.send_and_wait(stamp)
            rig.spin_until(lambda n=i + 1: len(_engine(rig).odometry) == n, what='pushed')
        # an image 10 s after the last odometry: no transform at its stamp
        rig.send_and_wait(T0 + 10 * 10**9)
        rig.spin_until(lambda: len(_engine(rig).odometry) == 4, what='the frame pushed anyway')
        got = _engine(rig).odometry
        for i in range(3):
            np.testing.assert_allclose(got[i], _T_odom_base(1.0 + 0.1 * i, 0.05 * i) @ T_BASE_CAM,
                                       atol=1e-9)
        assert got[3] is None
        values = rig.diagnostics()
        assert values['odometry'] == 'tf'
        assert values['odometry frames with'] == '3'
        assert values['odometry frames without'] == '1'
        assert 'odom' in values['odometry last problem']
        assert values['level'] == rig.types.DiagnosticStatus.WARN
        assert values['scale source'] == 'odometry'  # the engine's, through the counters
        assert values['odometry disagreements'] == '1'
    finally:
        robot.destroy_node()


def test_topic_mode_interpolates_odometry_and_mounts_the_camera(rig_factory, context):
    from align3r_ros.messages.header import make_header
    from align3r_ros.messages.transforms import matrix_to_pose
    rig = rig_factory(overrides=[('input.odometry', 'topic'), ('input.odometry_topic', '/odom'),
                                 ('frames.tf_mode', 'none')],
                      factory=EngineFactory(RecordingEngine))
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    robot = _robot(rig, context)
    try:
        publisher = robot.create_publisher(rig.types.Odometry, '/odom', 10)
        rig.start()
        rig.spin_until(lambda: publisher.get_subscription_count() >= 1, what='/odom matched')
        _wait_static(rig)
        history = rig.node._odometry._history

        def odometry(stamp: int, x: float) -> None:
            msg = rig.types.Odometry(header=make_header(stamp, 'odom', rig.types),
                                     child_frame_id='base_link')
            msg.pose.pose = matrix_to_pose(_T_odom_base(x), rig.types)
            publisher.publish(msg)
            rig.spin_until(lambda: history._items and history._items[-1][0] == stamp,
                           what='odometry taken')

        # odometry at 20 ms before and after each image: the image is half-way between
        for i in range(3):
            stamp = T0 + i * STEP
            odometry(stamp - 20_000_000, 1.0 + i)
            odometry(stamp + 20_000_000, 1.2 + i)
            rig.send_and_wait(stamp)
            rig.spin_until(lambda n=i + 1: len(_engine(rig).odometry) == n, what='pushed')
        got = _engine(rig).odometry
        for i in range(3):
            np.testing.assert_allclose(got[i], _T_odom_base(1.1 + i) @ T_BASE_CAM, atol=1e-9)
        values = rig.diagnostics()
        assert values['odometry'] == 'topic'
        assert values['odometry frames with'] == '3'
        assert values['odometry frames without'] == '0'
        assert values['level'] == rig.types.DiagnosticStatus.OK
    finally:
        robot.destroy_node()


class GroundTruthEngine:
    """The real engine with the oracle backend: each pushed frame (which the node filled with
    its odometry from TF) gets its ground-truth depth and pose by stamp, as the oracle needs;
    everything else is the engine's own."""

    def __init__(self, config, truth) -> None:
        from align3r_ros.engine.engine import Engine
        self.engine = Engine.from_config(config)
        self.truth = truth  # stamp -> the 7-Scenes Frame
        self.pushed = []  # (stamp, T_odom_cam or None)

    def push(self, frame):
        self.pushed.append((frame.stamp_ns, frame.T_odom_cam))
        truth = self.truth[frame.stamp_ns]
        return self.engine.push(dataclasses.replace(frame, gt_depth=truth.gt_depth,
                                                    gt_T_world_cam=truth.gt_T_world_cam))

    def __getattr__(self, name):
        return getattr(self.engine, name)


def _seven_scenes_stream(shared, count: int):
    from align3r_ros.benchmarks.stream_cases import ping_pong
    from align3r_ros.evaluation.datasets import DatasetKind, load_sequence
    seq = load_sequence(DatasetKind.SEVEN_SCENES, shared / 'data' / '7scenes_redkitchen')
    return list(ping_pong(seq.frames, count, STEP))


@pytest.mark.parametrize('odometry', ['tf', 'none'])
def test_real_engine_is_metric_from_the_robots_tf(rig_factory, context, shared, odometry):
    """The node with the real engine (oracle backend, live mode, K from CameraInfo) and a robot
    publishing odom -> base_link on /tf and base_link -> camera on /tf_static: once the camera
    has moved, the node's published poses are metres in the odometry's frame (the world starts
    at the first frame's odometry) and /diagnostics says the scale comes from odometry. The
    odometry is the truth (the oracle's world) seen through the mounting. With
    ``input.odometry: none`` the same run is not metric (the checks turn round); with the
    engine ignoring ``Frame.T_odom_cam`` the tf run fails ('none' == 'odometry')."""
    from align3r_ros.config_io import load_config
    from align3r_ros.messages.camera_info import intrinsics_to_camera_info
    from align3r_ros.messages.header import make_header
    from align3r_ros.messages.image import rgb_to_image_msg
    from align3r_ros.messages.transforms import matrix_to_transform_stamped
    from align3r_ros.geometry.se3 import invert_transform

    frames = _seven_scenes_stream(shared, 24)
    stamps = [T0 + k * STEP for k in range(len(frames))]
    truth = dict(zip(stamps, frames))
    overrides = [('input.odometry', odometry), ('frames.tf_mode', 'none'),
                 ('pairwise.backend', 'oracle'), ('preprocess.long_side', 64),
                 ('camera.intrinsics', 'known'), ('input.queue_size', len(frames)),
                 ('runtime.threads', 1)]

    def make(config=None):
        cfg = load_config({'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64},
                           'camera': {'intrinsics': 'known'}, 'runtime': {'threads': 1},
                           'input': {'odometry': odometry}})
        return GroundTruthEngine(cfg, truth)

    rig = rig_factory(overrides=overrides, factory=EngineFactory(make))
    published = rig.listen('/align3r/odometry', rig.types.Odometry)
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    robot = _robot(rig, context)
    try:
        odom_tf = tf2_ros.TransformBroadcaster(robot)
        rig.start()
        listening = odometry == 'tf'  # with none the node reads no TF at all
        if listening:
            rig.spin_until(lambda: odom_tf.pub_tf.get_subscription_count() >= 1,
                           what='/tf broadcaster matched by the node')
            _wait_static(rig)
        T_base_cam_inv = invert_transform(T_BASE_CAM)
        for frame, stamp in zip(frames, stamps):
            odom_tf.sendTransform(matrix_to_transform_stamped(
                frame.gt_T_world_cam @ T_base_cam_inv, stamp, 'odom', 'base_link', rig.types))
            if listening:
                rig.spin_until(lambda s=stamp: rig.node._tf_buffer.can_transform(
                    'odom', 'base_link', Time(nanoseconds=s)), what='odom -> base at the node')
            header = make_header(stamp, 'cam_optical', rig.types)
            h, w = frame.rgb.shape[:2]
            previous = rig.node._inputs._latest_camera
            rig.info_pub.publish(intrinsics_to_camera_info(frame.K, w, h, header, rig.types))
            rig.spin_until(lambda p=previous: rig.node._inputs._latest_camera is not p,
                           what='camera_info taken')
            before = rig.node.frames_received
            rig.image_pub.publish(rgb_to_image_msg(frame.rgb, header, rig.types, 'rgb8'))
            rig.spin_until(lambda b=before: rig.node.frames_received > b,
                           what=f'frame {stamp}')
        rig.spin_until(lambda: len(published) == len(frames), timeout_s=300.0,
                       what='every frame\'s pose')
        pushed = rig.factory.built[-1].pushed
        assert [s for s, _ in pushed] == stamps
        values = rig.diagnostics()
        positions = np.array([[m.pose.pose.position.x, m.pose.pose.position.y,
                               m.pose.pose.position.z] for m in published])
        truth_positions = np.stack([f.gt_T_world_cam[:3, 3] for f in frames])
        late = slice(len(frames) - 6, None)  # 0.22 to 0.39 m of camera path
        error = np.linalg.norm(positions[late] - truth_positions[late], axis=1)
        if odometry == 'tf':
            assert all(T is not None for _, T in pushed)
            assert values['scale source'] == 'odometry'
            assert error.max() < 0.03, error  # metres, in the odometry's frame
        else:
            assert all(T is None for _, T in pushed)
            assert values['scale source'] != 'odometry'
            assert error.max() > 0.03, error  # units, not metres: not where the robot is
    finally:
        robot.destroy_node()
