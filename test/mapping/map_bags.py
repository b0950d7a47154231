"""Small output bags for the mapping tests, written with the node's own message builders.

:func:`write_output_bag` writes what ``align3r-replay`` writes for a mapper (depth, CameraInfo,
odometry, /tf, dynamic mask) from synthetic ground truth, leaving out what a test names, so
each bad-input case is one argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from align3r_ros.bag.writer import AtomicBagWriter, Durability
from align3r_ros.mapping.frames import MapFrame
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.header import make_header
from align3r_ros.messages.image import depth_to_image_msg, mono8_to_image_msg
from align3r_ros.messages.odometry import pose_to_odometry_msg
from align3r_ros.messages.output_topics import OUTPUT_TOPICS
from align3r_ros.messages.transforms import matrix_to_transform_stamped

NAMES = OUTPUT_TOPICS.resolved()
WORLD = 'align3r_world'
CAMERA = 'camera_optical_frame'
PARTS = ('depth', 'camera_info', 'odometry', 'tf', 'mask')


def synthetic_map_frames(num_frames: int = 6, height: int = 24, width: int = 32,
                         seed: int = 0) -> Sequence[MapFrame]:
    """Ground-truth frames of the synthetic dynamic scene as map frames (mask = movers)."""
    from align3r_ros.synthetic import make_sequence

    sequence = make_sequence(num_frames, height, width, seed=seed, num_movers=1)
    return [MapFrame(stamp_ns=f.stamp_ns, depth=f.gt_depth, K=f.K, T_world_cam=f.gt_T_world_cam,
                     dynamic_mask=f.gt_dynamic_mask) for f in sequence.frames]


def write_output_bag(path: Path, frames: Iterable[MapFrame], parts: Sequence[str] = PARTS,
                     odometry_child: str = CAMERA,
                     mask_for: Optional[Sequence[int]] = None, mask_delay_ns: int = 0) -> Path:
    """An output bag at ``path`` holding the topics of ``parts`` for each frame.

    Args:
        odometry_child: the odometry's ``child_frame_id`` (another frame than the depth's
            makes the odometry unusable for the camera pose).
        mask_for: indices of the frames that get a mask message (None: all).
        mask_delay_ns: the masks' log time comes this much after their depth's (their header
            stamp stays the depth's), so a reader meets the depth first.
    """
    with AtomicBagWriter(path) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        declared = {'depth': (NAMES.depth, 'sensor_msgs/msg/Image'),
                    'camera_info': (NAMES.depth_info, 'sensor_msgs/msg/CameraInfo'),
                    'odometry': (NAMES.odometry, 'nav_msgs/msg/Odometry'),
                    'tf': (NAMES.tf, 'tf2_msgs/msg/TFMessage'),
                    'mask': (NAMES.dynamic_mask, 'sensor_msgs/msg/Image')}
        for part in parts:
            bag.add_topic(*declared[part], Durability.VOLATILE, 5)
        for index, frame in enumerate(frames):
            stamp = int(frame.stamp_ns)
            height, width = frame.depth.shape
            header = make_header(stamp, CAMERA, types)
            if 'mask' in parts and (mask_for is None or index in mask_for):
                mask = np.where(frame.dynamic_mask, 255, 0).astype(np.uint8)
                bag.write(NAMES.dynamic_mask, stamp + int(mask_delay_ns),
                          mono8_to_image_msg(mask, header, types))
            if 'depth' in parts:
                bag.write(NAMES.depth, stamp, depth_to_image_msg(frame.depth, header, types))
            if 'camera_info' in parts:
                bag.write(NAMES.depth_info, stamp,
                          intrinsics_to_camera_info(frame.K, width, height, header, types))
            if 'odometry' in parts:
                bag.write(NAMES.odometry, stamp, pose_to_odometry_msg(
                    frame.T_world_cam, stamp, WORLD, odometry_child, types))
            if 'tf' in parts:
                bag.write(NAMES.tf, stamp, types.TFMessage(transforms=[
                    matrix_to_transform_stamped(frame.T_world_cam, stamp, WORLD, CAMERA,
                                                types)]))
    return path
