"""Both bag scans (the replay's input frames and the mapper's output bag) read CameraInfo through
one function (``bag.input_frames.add_camera_info``): a usable one is kept with its stamp, an
unusable one is the same warning line in both, never an error."""

from __future__ import annotations

import numpy as np

from align3r_ros.bag.input_frames import BagFrameSource
from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.topics import select_input_topics
from align3r_ros.bag.writer import AtomicBagWriter, Durability
from align3r_ros.mapping.bag_source import TF_SOURCE, MapTopics, OutputBagSource
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.header import make_header
from align3r_ros.messages.image import depth_to_image_msg, rgb_to_image_msg
from align3r_ros.messages.transforms import matrix_to_transform_stamped
from mapping.map_bags import CAMERA, NAMES, WORLD

STAMPS = [10**9 + k * 100_000_000 for k in range(3)]
K = np.array([[20.0, 0, 8], [0, 20, 6], [0, 0, 1]])
BAD = 1   # this stamp's CameraInfo has fx = 0 (uncalibrated)


def write_bag(path):
    """Images, depth, CameraInfo and /tf at three stamps; the middle CameraInfo unusable."""
    with AtomicBagWriter(path) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        for topic, msgtype in (('/image', 'sensor_msgs/msg/Image'),
                               (NAMES.depth, 'sensor_msgs/msg/Image'),
                               (NAMES.depth_info, 'sensor_msgs/msg/CameraInfo'),
                               (NAMES.tf, 'tf2_msgs/msg/TFMessage')):
            bag.add_topic(topic, msgtype, Durability.VOLATILE, 5)
        for index, stamp in enumerate(STAMPS):
            header = make_header(stamp, CAMERA, types)
            K_here = K.copy()
            K_here[0, 0] = 0.0 if index == BAD else K[0, 0]
            bag.write('/image', stamp, rgb_to_image_msg(np.zeros((12, 16, 3), np.uint8),
                                                        header, types))
            bag.write(NAMES.depth, stamp, depth_to_image_msg(np.ones((12, 16), np.float32),
                                                             header, types))
            bag.write(NAMES.depth_info, stamp, intrinsics_to_camera_info(K_here, 16, 12, header,
                                                                         types))
            bag.write(NAMES.tf, stamp, types.TFMessage(transforms=[matrix_to_transform_stamped(
                np.eye(4), stamp, WORLD, CAMERA, types)]))
    return path


def test_both_scans_keep_the_usable_camera_info_and_warn_alike_of_the_other(tmp_path):
    bag = write_bag(tmp_path / 'bag')
    with BagReader(bag) as reader:
        plan = BagFrameSource(reader, select_input_topics(
            reader.topics, image='/image', camera_info=NAMES.depth_info)).scan()
        scan = OutputBagSource(reader, MapTopics(pose=TF_SOURCE)).scan()
    good = [s for k, s in enumerate(STAMPS) if k != BAD]
    for cameras, warnings in ((plan.cameras, plan.warnings), (scan.cameras, scan.warnings)):
        assert [stamp for stamp, _ in cameras] == good
        for _, camera in cameras:
            np.testing.assert_array_equal(camera.K, K)
            assert (camera.width, camera.height) == (16, 12)
        ignored = [w for w in warnings if w.startswith('CameraInfo ignored: ')]
        assert len(ignored) == 1 and 'fx=0.0' in ignored[0], warnings
    assert [w for w in plan.warnings if 'CameraInfo' in w] == \
        [w for w in scan.warnings if 'CameraInfo' in w]
