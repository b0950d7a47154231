"""Odometry from a bag (``bag/odometry.py``) and through ``align3r-replay``: /tf odom -> base_link
or a nav_msgs/Odometry / PoseStamped topic, the camera mounted through /tf_static, interpolated
to the image stamps; a needed mounting that is missing is one line before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from align3r_ros.bag.odometry import OdometrySpec, load_bag_odometry
from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.writer import AtomicBagWriter, Durability
from align3r_ros.config_io import load_config
from align3r_ros.errors import BagError
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.header import make_header
from align3r_ros.messages.image import rgb_to_image_msg
from align3r_ros.messages.odometry import pose_to_odometry_msg, pose_to_pose_stamped
from align3r_ros.messages.transforms import matrix_to_transform_stamped
from align3r_ros.structures import EngineStats, FrameResult
from align3r_ros.tools import replay
from align3r_ros.tools.replay_run import ReplayOptions, run_replay

T_START = 10**9
IMAGE_STEP = 100_000_000
ODOM_STEP = 30_000_000  # odometry at ~33 Hz, never on an image stamp
IMAGES = [T_START + k * IMAGE_STEP for k in range(4)]
#: base_link -> mount -> camera optical frame, two static transforms.
T_BASE_MOUNT = np.array([[1, 0, 0, 0.2], [0, 1, 0, 0], [0, 0, 1, 0.5], [0, 0, 0, 1.0]])
T_MOUNT_CAM = np.array([[0, 0, 1, 0], [-1, 0, 0, 0.05], [0, -1, 0, 0], [0, 0, 0, 1.0]])


def T_odom_base(stamp_ns: int) -> np.ndarray:
    """The robot drives 1 m/s along x and turns 0.5 rad/s (exact under lerp + slerp)."""
    t = (stamp_ns - T_START) / 1e9
    c, s = np.cos(0.5 * t), np.sin(0.5 * t)
    return np.array([[c, -s, 0, t], [s, c, 0, 2.0], [0, 0, 1, 0], [0, 0, 0, 1.0]])


def write_robot_bag(path: Path, odometry: str = 'tf', child: str = 'base_link',
                    mounting: bool = True) -> Path:
    """4 images in ``cam_optical``; odometry of ``child`` as /tf, /odom (Odometry) or /pose
    (PoseStamped); /tf_static base_link -> mount -> cam_optical when ``mounting``."""
    with AtomicBagWriter(path) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        bag.add_topic('/image', 'sensor_msgs/msg/Image', Durability.VOLATILE, 10)
        bag.add_topic('/tf_static', 'tf2_msgs/msg/TFMessage', Durability.TRANSIENT_LOCAL, 10)
        kinds = {'tf': ('/tf', 'tf2_msgs/msg/TFMessage'),
                 'topic': ('/odom', 'nav_msgs/msg/Odometry'),
                 'pose': ('/pose', 'geometry_msgs/msg/PoseStamped')}
        topic, msgtype = kinds[odometry]
        bag.add_topic(topic, msgtype, Durability.VOLATILE, 10)
        if mounting:
            bag.write('/tf_static', 0, types.TFMessage(transforms=[
                matrix_to_transform_stamped(T_BASE_MOUNT, 0, 'base_link', 'mount', types),
                matrix_to_transform_stamped(T_MOUNT_CAM, 0, 'mount', 'cam_optical', types)]))
        events = [(s, 'odom') for s in range(T_START - 60_000_000, IMAGES[-1] + 60_000_000,
                                              ODOM_STEP)] + [(s, 'image') for s in IMAGES]
        rgb = np.zeros((8, 8, 3), np.uint8)
        for stamp, what in sorted(events):
            if what == 'image':
                bag.write('/image', stamp, rgb_to_image_msg(
                    rgb, make_header(stamp, 'cam_optical', types), types))
            elif odometry == 'tf':
                bag.write(topic, stamp, types.TFMessage(transforms=[matrix_to_transform_stamped(
                    T_odom_base(stamp), stamp, 'odom', child, types)]))
            elif odometry == 'topic':
                bag.write(topic, stamp, pose_to_odometry_msg(T_odom_base(stamp), stamp, 'odom',
                                                             child, types))
            else:
                bag.write(topic, stamp, pose_to_pose_stamped(T_odom_base(stamp), stamp, 'odom',
                                                             types))
    return path


T_BASE_CAM = T_BASE_MOUNT @ T_MOUNT_CAM


@pytest.mark.parametrize('odometry,spec', [
    ('tf', OdometrySpec(tf_frame='base_link')),
    ('topic', OdometrySpec(topic='/odom'))])
def test_odometry_of_the_base_is_mounted_and_interpolated(tmp_path, odometry, spec):
    bag = write_robot_bag(tmp_path / 'in', odometry)
    with BagReader(bag) as reader:
        odom = load_bag_odometry(reader, spec, 'cam_optical', IMAGES)
        for stamp in IMAGES:
            np.testing.assert_allclose(odom.at(stamp), T_odom_base(stamp) @ T_BASE_CAM,
                                       atol=1e-9)
        assert odom.at(IMAGES[-1] + 10**9) is None  # beyond the odometry: none, counted
    assert (odom.frames_with, odom.frames_without) == (4, 1)


def test_odometry_of_the_camera_itself_needs_no_mounting(tmp_path):
    bag = write_robot_bag(tmp_path / 'in', 'topic', child='cam_optical', mounting=False)
    with BagReader(bag) as reader:
        odom = load_bag_odometry(reader, OdometrySpec(topic='/odom'), 'cam_optical', IMAGES)
    np.testing.assert_allclose(odom.at(IMAGES[1]), T_odom_base(IMAGES[1]), atol=1e-9)
    bag = write_robot_bag(tmp_path / 'pose', 'pose', mounting=False)
    with BagReader(bag) as reader:  # PoseStamped: the pose of the image frame
        odom = load_bag_odometry(reader, OdometrySpec(topic='/pose'), 'cam_optical', IMAGES)
    np.testing.assert_allclose(odom.at(IMAGES[2]), T_odom_base(IMAGES[2]), atol=1e-9)


class _Recorder:
    """A fake engine: one result per frame, keeping each frame's odometry."""

    odometry: list = []

    def __init__(self, config) -> None:
        self.stats = EngineStats()

    def push(self, frame):
        _Recorder.odometry.append(frame.T_odom_cam)
        shape = frame.shape
        return [FrameResult(stamp_ns=frame.stamp_ns, depth=np.ones(shape, np.float32),
                            confidence=np.full(shape, 5.0, np.float32),
                            K=np.array([[8.0, 0, 4], [0, 8, 4], [0, 0, 1]]),
                            T_world_cam=np.eye(4), is_metric=False,
                            dynamic_mask=np.zeros(shape, bool), rgb=frame.rgb, tag=frame.tag)]

    def flush(self):
        return []

    def keyframe_poses(self):
        return []


def test_replay_gives_frames_their_odometry(tmp_path):
    bag = write_robot_bag(tmp_path / 'in', 'tf')
    _Recorder.odometry = []
    options = ReplayOptions(input=bag, output=tmp_path / 'out', config=load_config(),
                            odometry=OdometrySpec(tf_frame='base_link'))
    outcome = run_replay(options, engine_factory=_Recorder)
    assert outcome.frames_written == 4
    for got, stamp in zip(_Recorder.odometry, IMAGES):
        np.testing.assert_allclose(got, T_odom_base(stamp) @ T_BASE_CAM, atol=1e-9)
    assert ('odometry', '/tf odom -> base_link') in outcome.report.settings


def test_missing_mounting_is_one_line_before_any_work(tmp_path, capsys):
    bag = write_robot_bag(tmp_path / 'in', 'tf', mounting=False)
    out = tmp_path / 'out'
    code = replay.main([str(bag), '-o', str(out), '--odometry-tf-frame', 'base_link',
                        '--quiet'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and not out.exists()
    assert len(err) == 1 and 'no transform base_link -> cam_optical' in err[0], err


def test_odometry_flags(tmp_path):
    parser = replay.build_parser()
    args = parser.parse_args(['in', '-o', 'out', '--odometry-tf-frame', 'base_footprint',
                              '--odometry-parent-frame', 'map'])
    assert replay._odometry_spec(args, load_config()) == OdometrySpec(
        tf_frame='base_footprint', parent_frame='map')
    args = parser.parse_args(['in', '-o', 'out', '--odometry-tf-frame', 'base_link'])
    assert replay._odometry_spec(args, load_config()).parent_frame == 'odom'
    with pytest.raises(SystemExit):
        parser.parse_args(['in', '-o', 'o', '--odometry-topic', '/odom',
                           '--odometry-tf-frame', 'base_link'])
    with pytest.raises(SystemExit):
        replay.main(['in', '-o', str(tmp_path / 'o'), '--odometry-parent-frame', 'map'])
    with pytest.raises(BagError, match='never reaches an image'):
        bag = write_robot_bag(tmp_path / 'in', 'tf')
        with BagReader(bag) as reader:
            load_bag_odometry(reader, OdometrySpec(tf_frame='base_link'), 'cam_optical',
                              [IMAGES[0] + 100 * 10**9])


def test_replay_with_the_real_engine_is_metric_from_bag_odometry(shared, tmp_path):
    """20 real 7-Scenes frames (160x120) with ground truth for the oracle, odom -> base_link
    on /tf (simulated odometry, :mod:`align3r_ros.benchmarks.odometry_sim`) and the mounting
    on /tf_static: the replay's results become metric from odometry."""
    from align3r_ros.benchmarks.odometry_sim import OdometryNoise, simulate_odometry
    from align3r_ros.evaluation.datasets import load_sequence
    from align3r_ros.messages.camera_info import intrinsics_to_camera_info
    from align3r_ros.messages.image import depth_to_image_msg

    data = load_sequence('7scenes', shared / 'data' / '7scenes_redkitchen', frames=20)
    T_odom_cam = simulate_odometry(np.stack([f.gt_T_world_cam for f in data.frames]),
                                   OdometryNoise())
    path = tmp_path / 'kitchen'
    with AtomicBagWriter(path) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        for topic, msgtype in (('/image', 'sensor_msgs/msg/Image'),
                               ('/camera_info', 'sensor_msgs/msg/CameraInfo'),
                               ('/depth', 'sensor_msgs/msg/Image'),
                               ('/gt', 'geometry_msgs/msg/PoseStamped'),
                               ('/tf', 'tf2_msgs/msg/TFMessage')):
            bag.add_topic(topic, msgtype, Durability.VOLATILE, 10)
        bag.add_topic('/tf_static', 'tf2_msgs/msg/TFMessage', Durability.TRANSIENT_LOCAL, 10)
        bag.write('/tf_static', 0, types.TFMessage(transforms=[
            matrix_to_transform_stamped(T_BASE_CAM, 0, 'base_link', 'cam_optical', types)]))
        for f, T in zip(data.frames, T_odom_cam):
            stamp = f.stamp_ns + 10**9
            header = make_header(stamp, 'cam_optical', types)
            K = f.K.copy()
            K[:2] /= 4
            bag.write('/tf', stamp, types.TFMessage(transforms=[matrix_to_transform_stamped(
                T @ np.linalg.inv(T_BASE_CAM), stamp, 'odom', 'base_link', types)]))
            bag.write('/image', stamp, rgb_to_image_msg(
                np.ascontiguousarray(f.rgb[::4, ::4]), header, types))
            bag.write('/camera_info', stamp, intrinsics_to_camera_info(K, 160, 120, header,
                                                                       types))
            bag.write('/depth', stamp, depth_to_image_msg(
                np.ascontiguousarray(f.gt_depth[::4, ::4]), header, types, encoding='32FC1'))
            bag.write('/gt', stamp, pose_to_pose_stamped(f.gt_T_world_cam, stamp, 'world',
                                                         types))
    config = load_config({'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64},
                          'camera': {'intrinsics': 'known'}, 'runtime': {'threads': 1}})
    options = ReplayOptions(input=path, output=tmp_path / 'out', config=config,
                            image_topic='/image', camera_info_topic='/camera_info',
                            gt_depth_topic='/depth', gt_pose_topic='/gt',
                            odometry=OdometrySpec(tf_frame='base_link'))
    outcome = run_replay(options)
    settings = dict(outcome.report.settings)
    assert settings['scale source'] == 'odometry' and settings['odometry frames'] == '20'
    assert settings['odometry'] == '/tf odom -> base_link'
    assert outcome.report.metric_frames >= 3
    with BagReader(tmp_path / 'out') as reader:
        last = None
        for item in reader.messages(['/align3r/odometry']):
            last = item
    T_last = np.eye(4)
    p = last.msg.pose.pose.position
    T_last[:3, 3] = [p.x, p.y, p.z]  # the last result's position: metres in odom's world
    assert np.linalg.norm(T_last[:3, 3] - T_odom_cam[-1][:3, 3]) < 0.05
