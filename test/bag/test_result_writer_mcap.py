"""Engine results -> output bag, decoded independently with ``mcap`` + ``mcap-ros2-support``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from align3r_ros.bag.result_writer import ResultBagWriter
from align3r_ros.messages.output_topics import OUTPUT_TOPICS
from align3r_ros.bag.writer import AtomicBagWriter, Storage
from align3r_ros.config_io import load_config
from align3r_ros.errors import ConfigError
from align3r_ros.messages.diagnostics import PipelineHealth
from align3r_ros.structures import FrameResult

H, W = 6, 8
K = np.array([[10.0, 0.0, 3.5], [0.0, 11.0, 2.5], [0.0, 0.0, 1.0]])
_MASK = np.zeros((H, W), bool)
_MASK[4, 6] = True  # far from the other marked pixels: the default growing still fits


def _result(stamp_ns: int) -> FrameResult:
    depth = np.linspace(1.0, 2.0, H * W, dtype=np.float32).reshape(H, W)
    depth[0, 0] = np.nan
    confidence = np.full((H, W), 5.0, np.float32)
    confidence[1, 2] = 1.5  # below output.conf_threshold 3.0 -> NaN
    T = np.eye(4)
    T[:3, 3] = [0.1 * stamp_ns / 1e9, 0.0, 0.5]
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 2] = 7
    return FrameResult(stamp_ns=stamp_ns, depth=depth, confidence=confidence, K=K,
                       T_world_cam=T, is_metric=False, dynamic_mask=_MASK, rgb=rgb,
                       residual=0.5)


@pytest.fixture(scope='module')
def decoded(tmp_path_factory):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    out = tmp_path_factory.mktemp('mcap') / 'out'
    config = load_config({'output': {'point_stride': 1}})
    stamps = [1_000_000_123, 1_033_333_456, 1_066_666_789]
    with AtomicBagWriter(out, Storage.MCAP) as bag:
        writer = ResultBagWriter(bag, config)
        for stamp in stamps:
            writer.write(_result(stamp), 'cam_optical', PipelineHealth(frames_received=1))
    (mcap_file,) = out.glob('*.mcap')
    messages = {}
    with open(mcap_file, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        for schema, channel, message, ros_msg in reader.iter_decoded_messages():
            messages.setdefault(channel.topic, []).append((schema.name, message.log_time,
                                                           ros_msg))
    info = yaml.safe_load((out / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    return stamps, messages, info


def test_topics_types_and_stamps(decoded):
    stamps, messages, info = decoded
    names = OUTPUT_TOPICS.resolved()
    expected = {names.depth: 'sensor_msgs/msg/Image', names.depth_info:
                'sensor_msgs/msg/CameraInfo', names.points: 'sensor_msgs/msg/PointCloud2',
                names.tf: 'tf2_msgs/msg/TFMessage', names.odometry: 'nav_msgs/msg/Odometry',
                names.path: 'nav_msgs/msg/Path',
                names.dynamic_mask: 'sensor_msgs/msg/Image',
                names.dynamic_mask_info: 'sensor_msgs/msg/CameraInfo',
                names.confidence: 'sensor_msgs/msg/Image',
                names.diagnostics: 'diagnostic_msgs/msg/DiagnosticArray'}
    assert set(messages) == set(expected)  # the keyframe path has no message without keyframes
    for topic, msgtype in expected.items():
        assert [m[0] for m in messages[topic]] == [msgtype] * 3
        assert [m[1] for m in messages[topic]] == stamps  # log time = image stamp
    assert info['storage_identifier'] == 'mcap' and info['version'] == 8


def test_depth_image_and_camera_info_share_the_header(decoded):
    stamps, messages, _ = decoded
    for (_, _, depth), (_, _, camera_info), stamp in zip(
            messages['/align3r/depth/image'], messages['/align3r/depth/camera_info'], stamps):
        assert (depth.header.stamp.sec, depth.header.stamp.nanosec) == divmod(stamp, 10**9)
        assert depth.header.stamp.sec == camera_info.header.stamp.sec
        assert depth.header.stamp.nanosec == camera_info.header.stamp.nanosec
        assert depth.header.frame_id == camera_info.header.frame_id == 'cam_optical'
        assert depth.encoding == '32FC1' and (depth.height, depth.width) == (H, W)
        assert depth.step == 4 * W
        dtype = '>f4' if depth.is_bigendian else '<f4'
        values = np.frombuffer(bytes(depth.data), dtype).reshape(H, W)
        expected = _result(stamp).depth
        assert np.isnan(values[0, 0]) and np.isnan(values[1, 2])  # invalid, low confidence
        finite = np.isfinite(values)
        assert finite.sum() == H * W - 2
        assert np.array_equal(values[finite], expected[finite])
        assert np.allclose(np.array(camera_info.k).reshape(3, 3), K)
        assert np.allclose(np.array(camera_info.p).reshape(3, 4)[:, :3], K)
        assert (camera_info.height, camera_info.width) == (H, W)


def test_point_cloud_layout(decoded):
    _, messages, _ = decoded
    _, _, cloud = messages['/align3r/points'][0]
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
        ('x', 0, 7, 1), ('y', 4, 7, 1), ('z', 8, 7, 1), ('rgb', 12, 7, 1)]
    assert (cloud.height, cloud.width, cloud.point_step, cloud.row_step) == (H, W, 16, 16 * W)
    assert cloud.is_dense is False and cloud.header.frame_id == 'cam_optical'
    points = np.frombuffer(bytes(cloud.data), '<f4').reshape(H, W, 4)
    depth = _result(0).depth
    v, u = 3, 5
    assert points[v, u, 2] == pytest.approx(depth[v, u])
    assert points[v, u, 0] == pytest.approx((u - K[0, 2]) / K[0, 0] * depth[v, u])
    assert points[v, u, 1] == pytest.approx((v - K[1, 2]) / K[1, 1] * depth[v, u])
    assert np.isnan(points[0, 0, :3]).all() and np.isnan(points[1, 2, :3]).all()
    rgb_bits = points[v, u, 3:4].view('<u4')[0]
    assert rgb_bits == (200 << 16) | 7


def test_tf_odometry_and_path(decoded):
    stamps, messages, _ = decoded
    for k, (_, _, tf) in enumerate(messages['/tf']):
        (transform,) = tf.transforms
        assert transform.header.frame_id == 'align3r_world'
        assert transform.child_frame_id == 'cam_optical'
        assert transform.transform.translation.x == pytest.approx(0.1 * stamps[k] / 1e9)
        assert transform.transform.rotation.w == pytest.approx(1.0)
    _, _, odometry = messages['/align3r/odometry'][-1]
    assert odometry.header.frame_id == 'align3r_world'
    assert odometry.child_frame_id == 'cam_optical'
    _, _, path = messages['/align3r/path'][-1]
    assert len(path.poses) == 3 and path.header.frame_id == 'align3r_world'
    _, _, diagnostics = messages['/diagnostics'][0]
    values = {kv.key: kv.value for kv in diagnostics.status[0].values}
    assert values['scale'] == 'relative' and math.isclose(float(values['alignment residual']),
                                                           0.5)


def test_toggles_and_rep105(tmp_path):
    config = load_config({'output': {'publish_cloud': False, 'publish_odometry': False,
                                     'publish_dynamic_mask': False,
                                     'publish_confidence': False},
                          'frames': {'tf_mode': 'none', 'camera_frame': 'override'}})
    with AtomicBagWriter(tmp_path / 'o') as bag:
        writer = ResultBagWriter(bag, config)
        writer.write(_result(5), '', PipelineHealth())
        assert writer.camera_frame('') == 'override'
    info = yaml.safe_load((tmp_path / 'o' / 'metadata.yaml').read_text())
    topics = {t['topic_metadata']['name'] for t in
              info['rosbag2_bagfile_information']['topics_with_message_count']}
    assert topics == {'/align3r/depth/image', '/align3r/depth/camera_info', '/diagnostics',
                      '/align3r/keyframes/path'}  # declared always, as the node's publisher
    with pytest.raises(ConfigError, match='rep105'):
        with AtomicBagWriter(tmp_path / 'p') as bag:
            ResultBagWriter(bag, load_config({'frames': {'tf_mode': 'rep105'}}))
    assert not (tmp_path / 'p').exists()


def test_path_restarts_when_the_engine_resets_its_world(tmp_path):
    import dataclasses

    from align3r_ros.bag.reader import BagReader

    with AtomicBagWriter(tmp_path / 'w') as bag:
        writer = ResultBagWriter(bag, load_config({}))
        for stamp, world_id in ((3, 0), (4, 0), (1, 1), (2, 1)):  # a bag loop: reset
            writer.write(dataclasses.replace(_result(stamp * 10**9), world_id=world_id), 'cam',
                         PipelineHealth())
    with BagReader(tmp_path / 'w') as reader:
        paths = {item.msg.header.stamp.sec: [p.header.stamp.sec for p in item.msg.poses]
                 for item in reader.messages(['/align3r/path'])}
    assert paths == {3: [3], 4: [3, 4], 1: [1], 2: [1, 2]}


def test_dynamic_mask_and_confidence_images(decoded):
    """mono8 mask (the engine's grown by output.dynamic_dilate_px) with the depth's CameraInfo,
    32FC1 confidence with NaN where there is none, each with the depth's header."""
    from align3r_ros.messages.dynamic import grow_mask

    stamps, messages, _ = decoded
    radius = load_config({}).output.dynamic_dilate_px
    for k, stamp in enumerate(stamps):
        _, _, depth = messages['/align3r/depth/image'][k]
        _, _, mask = messages['/align3r/dynamic_mask/image'][k]
        _, _, mask_info = messages['/align3r/dynamic_mask/camera_info'][k]
        _, _, depth_info = messages['/align3r/depth/camera_info'][k]
        _, _, confidence = messages['/align3r/confidence/image'][k]
        for msg in (mask, mask_info, confidence):
            assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == \
                (depth.header.stamp.sec, depth.header.stamp.nanosec, depth.header.frame_id)
        assert mask.encoding == 'mono8' and (mask.height, mask.width, mask.step) == (H, W, W)
        pixels = np.frombuffer(bytes(mask.data), np.uint8).reshape(H, W)
        assert set(np.unique(pixels)) == {0, 255}
        assert np.array_equal(pixels == 255, grow_mask(_MASK, radius))
        assert np.array_equal(mask_info.k, depth_info.k) and np.array_equal(mask_info.p,
                                                                            depth_info.p)
        assert (mask_info.height, mask_info.width) == (depth_info.height, depth_info.width)
        assert confidence.encoding == '32FC1' and (confidence.height, confidence.width) == (H, W)
        dtype = '>f4' if confidence.is_bigendian else '<f4'
        values = np.frombuffer(bytes(confidence.data), dtype).reshape(H, W)
        assert np.array_equal(values, _result(stamp).confidence)  # all valid here


def test_diagnostics_carry_the_dynamic_pixel_fraction(decoded):
    _, messages, _ = decoded
    for _, _, msg in messages['/diagnostics']:
        values = {kv.key: kv.value for kv in msg.status[0].values}
        assert float(values['dynamic pixel fraction']) == pytest.approx(1 / (H * W), abs=1e-4)
