"""Frames (with optional intrinsics and ground truth) -> a rosbag2 a camera driver could have
recorded.

Topics (defaults): ``/camera/image_raw`` (Image rgb8, or CompressedImage jpeg on
``/camera/image_raw/compressed``), ``/camera/camera_info``, ``/camera/depth/image_raw``
(ground-truth depth, 16UC1 mm or 32FC1 m) and ``/ground_truth/pose`` (PoseStamped, camera-to-world
in ``world``). Every message is stamped with the frame's stamp and logged at that time. The same
message builders as the node; the same atomic writer as the replay tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from align3r_ros.bag.writer import AtomicBagWriter, Durability, Storage
from align3r_ros.errors import BagError
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.header import make_header
from align3r_ros.messages.image import depth_to_image_msg, rgb_to_compressed_msg, rgb_to_image_msg
from align3r_ros.messages.odometry import pose_to_pose_stamped
from align3r_ros.structures import Frame


@dataclass(frozen=True)
class FramesBagOptions:
    """Topic names, encodings and frames of a bag built from frames.

    Attributes:
        distortion: (N,) coefficients recorded in CameraInfo (images are written as given).
        distortion_model: their model (plumb_bob, rational_polynomial, equidistant).
    """

    image_topic: str = '/camera/image_raw'
    camera_info_topic: str = '/camera/camera_info'
    gt_depth_topic: str = '/camera/depth/image_raw'
    gt_pose_topic: str = '/ground_truth/pose'
    frame_id: str = 'camera_optical_frame'
    world_frame: str = 'world'
    compressed: bool = False
    encoding: str = 'rgb8'
    depth_encoding: str = '16UC1'
    storage: Storage = Storage.SQLITE3
    distortion: Optional[np.ndarray] = None
    distortion_model: str = 'plumb_bob'

    @property
    def resolved_image_topic(self) -> str:
        return self.image_topic + '/compressed' if self.compressed else self.image_topic


def write_frames_bag(frames: Iterable[Frame], output: Path, options: FramesBagOptions,
                     progress: Optional[Callable[[int], None]] = None,
                     overwrite: bool = False) -> int:
    """Write ``frames`` (increasing stamps) into a new bag at ``output``; returns the count.

    CameraInfo is written for frames with ``K``; depth and pose topics for frames with
    ground truth. Raises BagError for an empty input, stamps that do not increase or a failed
    write (full disk); nothing is left at ``output`` then. ``overwrite`` replaces an existing
    bag once the new one is complete.
    """
    count = 0
    with AtomicBagWriter(output, options.storage, overwrite=overwrite) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        declared = set()

        def declare(topic: str, msgtype: str) -> None:
            if topic not in declared:
                bag.add_topic(topic, msgtype, Durability.VOLATILE, 10)
                declared.add(topic)

        last_stamp = None
        for frame in frames:
            stamp = int(frame.stamp_ns)
            if last_stamp is not None and stamp <= last_stamp:
                raise BagError(f'frame stamps must increase: {stamp} ns after {last_stamp} ns')
            last_stamp = stamp
            header = make_header(stamp, options.frame_id, types)
            if options.compressed:
                declare(options.resolved_image_topic, 'sensor_msgs/msg/CompressedImage')
                msg = rgb_to_compressed_msg(frame.rgb, header, types)
            else:
                declare(options.image_topic, 'sensor_msgs/msg/Image')
                msg = rgb_to_image_msg(frame.rgb, header, types, encoding=options.encoding)
            bag.write(options.resolved_image_topic, stamp, msg)
            if frame.K is not None:
                declare(options.camera_info_topic, 'sensor_msgs/msg/CameraInfo')
                height, width = frame.rgb.shape[:2]
                bag.write(options.camera_info_topic, stamp, intrinsics_to_camera_info(
                    frame.K, width, height, header, types, D=options.distortion,
                    distortion_model=options.distortion_model))
            if frame.gt_depth is not None:
                declare(options.gt_depth_topic, 'sensor_msgs/msg/Image')
                bag.write(options.gt_depth_topic, stamp, depth_to_image_msg(
                    frame.gt_depth, header, types, encoding=options.depth_encoding))
            if frame.gt_T_world_cam is not None:
                declare(options.gt_pose_topic, 'geometry_msgs/msg/PoseStamped')
                bag.write(options.gt_pose_topic, stamp, pose_to_pose_stamped(
                    frame.gt_T_world_cam, stamp, options.world_frame, types))
            count += 1
            if progress:
                progress(count)
        if count == 0:
            raise BagError('no frames to write')
    return count
