"""Frames out of bags: every encoding, ground truth association, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from align3r_ros.bag.input_frames import BagFrameSource
from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.topics import select_input_topics
from align3r_ros.bag.writer import AtomicBagWriter
from align3r_ros.errors import BagError
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.header import make_header
from align3r_ros.messages.image import depth_to_image_msg, rgb_to_image_msg
from align3r_ros.messages.transforms import matrix_to_pose, matrix_to_transform_stamped
from align3r_ros.engine.steps.rectify import FrameRectifier


def _read(path, **topics):
    with BagReader(path) as reader:
        selected = select_input_topics(reader.topics, **topics)
        source = BagFrameSource(reader, selected)
        plan = source.scan()
        frames = list(source)
    return selected, plan, frames


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16'])
def test_raw_encodings_decode_to_the_written_rgb(kitchen_frames, write_bag, encoding):
    bag = write_bag(kitchen_frames[:2], encoding=encoding)
    topics, plan, frames = _read(bag)
    assert topics.image == '/camera/image_raw' and topics.camera_info == '/camera/camera_info'
    assert [f.frame.stamp_ns for f in frames] == [f.stamp_ns for f in kitchen_frames[:2]]
    for got, sent in zip(frames, kitchen_frames):
        if encoding.startswith('mono'):
            gray = got.frame.rgb[:, :, 0].astype(int)
            luma = sent.rgb.astype(float) @ [0.299, 0.587, 0.114]
            assert np.abs(gray - luma).max() <= 1.0
        else:
            assert np.array_equal(got.frame.rgb, sent.rgb)
        assert np.allclose(got.frame.K, sent.K) and got.frame_id == 'camera_optical_frame'


def test_compressed_images(kitchen_frames, write_bag):
    bag = write_bag(kitchen_frames[:2], compressed=True)
    topics, _, frames = _read(bag)
    assert topics.compressed and topics.image == '/camera/image_raw/compressed'
    assert topics.camera_info == '/camera/camera_info'  # sibling of the raw topic
    error = np.abs(frames[0].frame.rgb.astype(int) - kitchen_frames[0].rgb).mean()
    assert error < 4.0  # jpeg quality 95


@pytest.mark.parametrize('depth_encoding, tolerance', [('16UC1', 5e-4), ('32FC1', 0.0)])
def test_ground_truth_depth_and_pose(kitchen_frames, write_bag, depth_encoding, tolerance):
    bag = write_bag(kitchen_frames[:3], depth_encoding=depth_encoding)
    _, plan, frames = _read(bag, gt_depth='/camera/depth/image_raw',
                            gt_pose='/ground_truth/pose')
    assert not plan.warnings
    for got, sent in zip(frames, kitchen_frames):
        assert np.array_equal(np.isnan(got.frame.gt_depth), np.isnan(sent.gt_depth))
        valid = ~np.isnan(sent.gt_depth)
        assert np.abs(got.frame.gt_depth[valid] - sent.gt_depth[valid]).max() <= tolerance
        assert np.allclose(got.frame.gt_T_world_cam[:3, 3], sent.gt_T_world_cam[:3, 3])
        R_delta = got.frame.gt_T_world_cam[:3, :3].T @ sent.gt_T_world_cam[:3, :3]
        assert Rotation.from_matrix(R_delta / np.cbrt(np.linalg.det(R_delta))).magnitude() < 1e-2


def _pose(x: float, yaw_deg: float) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler('y', yaw_deg, degrees=True).as_matrix()
    T[0, 3] = x
    return T


def _custom_bag(path, images, extra=()):
    """images: [(stamp, rgb or None for an empty image, encoding[, log time])]; extra: [(topic,
    type, log time, msg-builder(types))]. Log times default to the stamps."""
    with AtomicBagWriter(path) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        bag.add_topic('/cam/image', 'sensor_msgs/msg/Image')
        for topic, msgtype, _, _ in extra:
            bag.add_topic(topic, msgtype)
        events = [(im[3] if len(im) > 3 else im[0], 0, i) for i, im in enumerate(images)]
        events += [(log, 1, i) for i, (_, _, log, _) in enumerate(extra)]
        for log, kind, i in sorted(events):
            if kind == 0:
                stamp, rgb, encoding = images[i][:3]
                header = make_header(stamp, 'cam', types)
                msg = types.Image(header=header, height=0, width=0, encoding='rgb8',
                                  is_bigendian=0, step=0, data=np.zeros(0, np.uint8)) \
                    if rgb is None else rgb_to_image_msg(rgb, header, types)
                if encoding != 'rgb8':
                    msg.encoding = encoding
                bag.write('/cam/image', log, msg)
            else:
                topic, _, log, build = extra[i]
                bag.write(topic, log, build(types))
    return path


def test_poses_from_odometry_transform_and_tf_are_interpolated(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    images = [(s * 10**8, rgb, 'rgb8') for s in (10, 11, 12)]

    def odometry(stamp, T):
        return lambda types: types.Odometry(
            header=make_header(stamp, 'world', types), child_frame_id='cam',
            pose=types.PoseWithCovariance(pose=matrix_to_pose(T, types),
                                          covariance=np.zeros(36)),
            twist=types.TwistWithCovariance(twist=types.Twist(
                linear=types.Vector3(x=0.0, y=0.0, z=0.0),
                angular=types.Vector3(x=0.0, y=0.0, z=0.0)), covariance=np.zeros(36)))

    def tf(stamp, T):
        return lambda types: types.TFMessage(transforms=[
            matrix_to_transform_stamped(T, stamp, 'world', 'other', types),
            matrix_to_transform_stamped(T, stamp, 'world', 'cam_gt', types)])

    # Poses at 0.95 s, 1.05 s, ... (between the images): x = 10 * t, yaw = 20 * t degrees.
    pose_stamps = [95 * 10**7 + k * 5 * 10**7 for k in range(6)]
    for name, builder, kwargs in (
            ('odom', odometry, {'gt_pose': '/gt'}),
            ('tf', tf, {'gt_tf_frame': 'cam_gt'}),
            ('tfs', lambda s, T: (lambda types: matrix_to_transform_stamped(
                T, s, 'world', 'cam', types)), {'gt_pose': '/gt'})):
        topic = '/tf' if name == 'tf' else '/gt'
        msgtype = {'odom': 'nav_msgs/msg/Odometry', 'tf': 'tf2_msgs/msg/TFMessage',
                   'tfs': 'geometry_msgs/msg/TransformStamped'}[name]
        extra = [(topic, msgtype, s, builder(s, _pose(10 * s / 1e9, 20 * s / 1e9)))
                 for s in pose_stamps]
        _, plan, frames = _read(_custom_bag(tmp_path / name, images, extra), **kwargs)
        assert plan.warnings == ['no CameraInfo topic: intrinsics are estimated (or taken '
                                 'from the camera.* parameters)']
        for frame in frames:
            t = frame.frame.stamp_ns / 1e9
            assert np.allclose(frame.frame.gt_T_world_cam, _pose(10 * t, 20 * t), atol=1e-9)


def test_empty_images_are_skipped_with_warnings_and_stamps_handed_over(tmp_path):
    rgb = np.full((4, 6, 3), 7, np.uint8)
    # Logged in this order; the second image's stamp goes backwards, the fourth repeats the
    # third's: the engine's frame policy decides about those, the reader hands them over.
    images = [(3 * 10**9, rgb, 'rgb8', 1), (2 * 10**9, rgb, 'rgb8', 2),
              (4 * 10**9, rgb, 'rgb8', 3), (4 * 10**9, rgb, 'rgb8', 4),
              (5 * 10**9, None, 'rgb8', 5), (6 * 10**9, np.zeros((8, 6, 3), np.uint8), 'rgb8', 6)]
    bag = _custom_bag(tmp_path / 'b', images)
    with BagReader(bag) as reader:
        source = BagFrameSource(reader, select_input_topics(reader.topics))
        source.scan()
        frames = list(source)
    assert [f.frame.stamp_ns // 10**9 for f in frames] == [3, 2, 4, 4, 6]
    assert frames[-1].frame.rgb.shape == (8, 6, 3)  # no CameraInfo: sizes may change
    assert frames[0].frame.K is None and frames[0].camera is None
    assert source.frames_skipped == 1 and 'empty image' in ' '.join(source.plan.warnings)


def test_unknown_encoding_skips_every_frame(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    bag = _custom_bag(tmp_path / 'u', [(10**9, rgb, 'yuv422'), (2 * 10**9, rgb, 'yuv422')])
    _, plan, frames = _read(bag)
    assert frames == [] and "unsupported image encoding 'yuv422'" in plan.warnings[-1]


def test_ground_truth_that_never_associates_is_reported(kitchen_frames, tmp_path):
    frame = kitchen_frames[0]
    extra = [('/depth', 'sensor_msgs/msg/Image', 10**9 + 5 * 10**8,
              lambda types: depth_to_image_msg(frame.gt_depth, make_header(
                  10**9 + 5 * 10**8, 'cam', types), types))]
    bag = _custom_bag(tmp_path / 'g', [(10**9, frame.rgb, 'rgb8')], extra)
    _, plan, frames = _read(bag, gt_depth='/depth')
    assert frames[0].frame.gt_depth is None
    assert any('never associates' in w for w in plan.warnings)


def test_topic_selection_errors_list_the_topics(kitchen_frames, write_bag):
    bag = write_bag(kitchen_frames[:1])
    with BagReader(bag) as reader:
        with pytest.raises(BagError, match=r'/nope is not in the bag; it has: .*'
                                           r'/camera/image_raw \(sensor_msgs/msg/Image, 1 msgs\)'):
            select_input_topics(reader.topics, image='/nope')
        with pytest.raises(BagError, match='expected sensor_msgs/msg/Image'):
            select_input_topics(reader.topics, gt_depth='/camera/camera_info')
        # The depth stream is not a candidate for the colour input.
        assert select_input_topics(reader.topics).image == '/camera/image_raw'
        with pytest.raises(BagError, match='not both'):
            select_input_topics(reader.topics, gt_pose='/ground_truth/pose', gt_tf_frame='x')


def test_ambiguous_image_topics(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    with AtomicBagWriter(tmp_path / 'two') as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        for topic in ('/left/image', '/right/image'):
            bag.add_topic(topic, 'sensor_msgs/msg/Image')
            bag.write(topic, 1, rgb_to_image_msg(rgb, make_header(1, 'c', types), types))
    with BagReader(tmp_path / 'two') as reader:
        with pytest.raises(BagError, match='several image topics.*--image-topic'):
            select_input_topics(reader.topics)
        assert select_input_topics(reader.topics, image='/right/image').image == '/right/image'


def test_prior_topic_is_associated_by_stamp_and_decoded_to_metres(tmp_path):
    """Images at 1.000, 1.010, 1.100 and 1.200 s; prior depth (16UC1 mm) at 1.005 s (within
    20 ms of the first two: both take it), none near 1.100 s, and a half-resolution one at
    1.200 s logged after its image (it waits). The prior keeps its own resolution."""
    rgb = np.zeros((4, 6, 3), np.uint8)
    near = np.arange(24, dtype=np.float32).reshape(4, 6) * 0.1 + 0.5
    small = np.full((2, 3), 2.5, np.float32)
    images = [(t, rgb, 'rgb8') for t in (10**9, 101 * 10**7, 110 * 10**7)] + \
        [(120 * 10**7, rgb, 'rgb8', 120 * 10**7)]

    def prior(stamp, depth):
        return lambda types: depth_to_image_msg(depth, make_header(stamp, 'cam', types), types,
                                                encoding='16UC1')
    extra = [('/prior', 'sensor_msgs/msg/Image', 1005 * 10**6, prior(1005 * 10**6, near)),
             ('/prior', 'sensor_msgs/msg/Image', 121 * 10**7, prior(120 * 10**7, small))]
    bag = _custom_bag(tmp_path / 'p', images, extra)
    with BagReader(bag) as reader:
        source = BagFrameSource(reader, select_input_topics(reader.topics, prior='/prior'))
        frames = [f.frame for f in source]
    assert len(frames) == 4 and all(f.gt_depth is None for f in frames)
    assert np.allclose(frames[0].prior, near, atol=5e-4)  # millimetres -> metres
    assert np.array_equal(frames[1].prior, frames[0].prior)
    assert frames[2].prior is None and source.frames_without_prior == 1
    assert frames[3].prior.shape == (2, 3) and np.allclose(frames[3].prior, 2.5)


def test_distorted_frames_carry_their_model_and_are_rectified_alike(kitchen_frames, write_bag):
    D = np.array([0.1, -0.05, 0.0, 0.0, 0.0])
    bag = write_bag(kitchen_frames[:2], distortion=D)
    topic = '/camera/depth/image_raw'
    _, plan, frames = _read(bag, prior=topic, gt_depth=topic)
    assert not plan.warnings and len(frames) == 2
    rectifier = FrameRectifier()
    for got, sent in zip(frames, kitchen_frames):
        # handed over as recorded, with the model: the engine rectifies (live and replay alike)
        assert got.frame.distortion_model == 'plumb_bob' and np.allclose(got.frame.D, D)
        assert np.array_equal(got.frame.rgb, sent.rgb)
        np.testing.assert_allclose(got.frame.gt_depth, sent.gt_depth, atol=5e-4)  # mm
        rectified = rectifier.rectify(got.frame)
        prior, gt = rectified.prior, rectified.gt_depth
        assert prior.shape == gt.shape == sent.gt_depth.shape
        assert np.array_equal(np.isnan(prior), np.isnan(gt))
        assert np.array_equal(prior[~np.isnan(prior)], gt[~np.isnan(gt)])
        assert not np.array_equal(np.isnan(prior), np.isnan(sent.gt_depth))  # rectified
    with BagReader(bag) as reader:  # rectification off: images used as recorded
        source = BagFrameSource(reader, select_input_topics(reader.topics), rectify=False)
        assert all(f.frame.distortion_model == '' and f.frame.D is None for f in source)


def test_prior_topic_errors_list_the_topics(kitchen_frames, write_bag):
    bag = write_bag(kitchen_frames[:1])
    with BagReader(bag) as reader:
        with pytest.raises(BagError, match=r'/nope is not in the bag; it has: .*'
                                           r'/camera/depth/image_raw'):
            select_input_topics(reader.topics, prior='/nope')
        with pytest.raises(BagError, match='prior depth topic /camera/camera_info has type'):
            select_input_topics(reader.topics, prior='/camera/camera_info')
        # A prior depth stream is not a candidate for the colour input either.
        assert select_input_topics(reader.topics, prior='/camera/depth/image_raw').image == \
            '/camera/image_raw'
