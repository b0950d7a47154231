"""One engine result -> the messages of one frame; the node and the bag writer both use it.

Pure: the message classes are injected (:class:`MessageTypes`), the config passed in is the one
in force (run-time parameters such as ``output.conf_threshold`` apply to the next frame).

Conventions, applied here once:

* every message is stamped with the INPUT image's stamp (never now(), so replay works);
* the camera's optical frame is ``frames.camera_frame`` when set, else the image header's
  ``frame_id``, else :data:`FALLBACK_CAMERA_FRAME` (an empty id is a driver bug; TF needs a name);
* depth is masked once (:func:`~align3r_ros.messages.dynamic.output_depth`: below
  ``output.conf_threshold`` and, with ``output.exclude_dynamic``, the dynamic pixels become
  NaN); the depth image, its CameraInfo, the cloud, the dynamic mask, its CameraInfo and the
  confidence image share one header value (each message its own Header object) and one size;
* the dynamic mask (mono8, 255 dynamic) is the engine's grown by ``output.dynamic_dilate_px``
  (:func:`~align3r_ros.messages.dynamic.output_dynamic_mask`): the pixels ``exclude_dynamic``
  removes are exactly the ones it marks; its CameraInfo is the depth's;
* ``frames.tf_mode: direct`` gives the world -> camera optical transform; ``rep105`` needs live
  TF lookups, so the transport composes its transform and odometry itself
  (:func:`odometry_messages` with the base pose);
* odometry and the path's pose are the camera's pose in ``frames.world_frame`` (modes direct and
  none). Poses of one path share the result's ``world_id`` (``BoundedPath.add``);
* the keyframe path (:func:`keyframe_path_msg`) is the live engine's refined keyframe window in
  ``frames.world_frame``, each pose stamped with its keyframe's input stamp: a separate message,
  so per-frame results already published are never rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol, Sequence, Tuple

import numpy as np

from align3r_ros.config import Align3rConfig, TfMode
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.dynamic import (confidence_image, mask_to_mono8, output_depth,
                                          output_dynamic_mask)
from align3r_ros.messages.header import copy_header, make_header
from align3r_ros.messages.image import depth_to_image_msg, mono8_to_image_msg
from align3r_ros.messages.odometry import pose_to_odometry_msg, pose_to_pose_stamped
from align3r_ros.messages.point_cloud import depth_to_cloud_msg
from align3r_ros.messages.transforms import matrix_to_transform_stamped
from align3r_ros.messages.types import MessageTypes
from align3r_ros.structures import FrameResult

#: the optical frame of outputs whose image header had an empty frame_id. Prefixed, so it can
#: never be a real driver's frame (a second TF parent for someone else's frame).
FALLBACK_CAMERA_FRAME = 'align3r_camera_optical_frame'


@dataclass(frozen=True)
class ResultMessages:
    """The messages of one result; None where the output is off (or left to the transport).

    Attributes:
        camera_frame: the optical frame id the outputs use.
        depth: sensor_msgs/Image 32FC1, metres when metric, NaN where masked.
        depth_info: sensor_msgs/CameraInfo of ``depth`` (K at the depth's resolution).
        cloud: sensor_msgs/PointCloud2 in ``camera_frame``.
        dynamic_mask: sensor_msgs/Image mono8 at the depth's size, 255 dynamic, 0 static.
        dynamic_mask_info: sensor_msgs/CameraInfo of ``dynamic_mask`` (equal to ``depth_info``).
        confidence: sensor_msgs/Image 32FC1 at the depth's size, NaN where none.
        transform: geometry_msgs/TransformStamped world -> ``camera_frame`` (``direct`` only).
        odometry: nav_msgs/Odometry of ``camera_frame`` in the world (not for ``rep105``).
        pose: geometry_msgs/PoseStamped of the same pose, for the path (not for ``rep105``).
    """

    camera_frame: str
    depth: Optional[Any] = None
    depth_info: Optional[Any] = None
    cloud: Optional[Any] = None
    dynamic_mask: Optional[Any] = None
    dynamic_mask_info: Optional[Any] = None
    confidence: Optional[Any] = None
    transform: Optional[Any] = None
    odometry: Optional[Any] = None
    pose: Optional[Any] = None


class StampedPose(Protocol):
    """A pose with its input stamp (e.g. ``align3r_ros.engine.live.KeyframePose``)."""

    stamp_ns: int
    T_world_cam: np.ndarray  # (4, 4) camera-to-world


def keyframe_path_msg(keyframes: Sequence[StampedPose], stamp_ns: int, config: Align3rConfig,
                      types: MessageTypes) -> Any:
    """nav_msgs/Path of the keyframe window, oldest first, in ``frames.world_frame``.

    Args:
        keyframes: the keyframes' poses (``Engine.keyframe_poses()``; may be empty: an empty
            path clears the previous one after a reset or a tracking loss).
        stamp_ns: the path header's stamp (the input stamp of the frame that changed it).
        config: the config in force (``frames.world_frame``).
        types: the transport's message classes.

    Raises:
        ConversionError: a stamp or pose that no message can hold.
    """
    world = config.frames.world_frame
    poses = [pose_to_pose_stamped(np.asarray(kf.T_world_cam, dtype=np.float64),
                                  int(kf.stamp_ns), world, types) for kf in keyframes]
    return types.Path(header=make_header(int(stamp_ns), world, types), poses=poses)


class KeyframePathGate:
    """Publishes the keyframe path only when it changed (a new keyframe, a refinement, a
    reset); nothing before the first keyframe. One per output stream (node activation, bag)."""

    def __init__(self) -> None:
        self._sent: Optional[tuple] = None

    def message(self, keyframes: Sequence[StampedPose], stamp_ns: int, config: Align3rConfig,
                types: MessageTypes) -> Optional[Any]:
        """The nav_msgs/Path to publish now (:func:`keyframe_path_msg`), or None when it is
        the one last returned; ``stamp_ns``: the input stamp of the frame whose push changed
        it."""
        signature = tuple((int(kf.stamp_ns), np.asarray(kf.T_world_cam, np.float64).tobytes())
                          for kf in keyframes) + (config.frames.world_frame,)
        if signature == self._sent or (self._sent is None and not keyframes):
            return None
        msg = keyframe_path_msg(keyframes, stamp_ns, config, types)
        self._sent = signature
        return msg


def camera_frame_id(input_frame_id: str, config: Align3rConfig) -> str:
    """The outputs' optical frame: the config override, the image's frame id, or the fallback."""
    return config.frames.camera_frame or str(input_frame_id or '') or FALLBACK_CAMERA_FRAME


def odometry_messages(T_world_child: np.ndarray, stamp_ns: int, child_frame: str,
                      config: Align3rConfig, types: MessageTypes) -> Tuple[Any, Any]:
    """(nav_msgs/Odometry, geometry_msgs/PoseStamped) of ``child_frame`` in the world frame.

    Args:
        T_world_child: (4, 4) pose of ``child_frame`` in ``frames.world_frame``.
        stamp_ns: the input image's stamp.
    """
    world = config.frames.world_frame
    return (pose_to_odometry_msg(T_world_child, stamp_ns, world, child_frame, types),
            pose_to_pose_stamped(T_world_child, stamp_ns, world, types))


def compose_result(result: FrameResult, input_frame_id: str, config: Align3rConfig,
                   types: MessageTypes) -> ResultMessages:
    """Every enabled output of one result (see module docstring).

    Args:
        result: the engine's result for one frame.
        input_frame_id: the image header's frame_id ('' when unknown).
        config: the config in force (``output`` and ``frames`` groups).
        types: the transport's message classes.

    Raises:
        ConversionError: a stamp or pose that no message can hold.
    """
    out, frames = config.output, config.frames
    stamp = int(result.stamp_ns)
    camera_frame = camera_frame_id(input_frame_id, config)
    header = make_header(stamp, camera_frame, types)
    depth_msg = depth_info = cloud = transform = odometry = pose = None
    mask_msg = mask_info = confidence = None
    height, width = np.shape(result.depth)

    def camera_info() -> Any:
        return intrinsics_to_camera_info(result.K, width, height, copy_header(header, types),
                                         types)

    dynamic = output_dynamic_mask(result, out) if out.publish_dynamic_mask or (
        out.exclude_dynamic and (out.publish_depth or out.publish_cloud)) else None
    if out.publish_depth or out.publish_cloud:
        depth = output_depth(result, out, dynamic)
        if out.publish_depth:
            depth_msg = depth_to_image_msg(depth, copy_header(header, types), types)
            depth_info = camera_info()
        if out.publish_cloud:
            cloud = depth_to_cloud_msg(depth, result.K, copy_header(header, types), types,
                                       rgb=result.rgb, stride=out.point_stride,
                                       organized=out.organized_cloud)
    if out.publish_dynamic_mask:
        mask_msg = mono8_to_image_msg(mask_to_mono8(dynamic), copy_header(header, types),
                                      types)
        mask_info = camera_info()
    if out.publish_confidence:
        confidence = depth_to_image_msg(confidence_image(result), copy_header(header, types),
                                        types)
    T_world_cam = np.asarray(result.T_world_cam, dtype=np.float64)
    if frames.tf_mode is TfMode.DIRECT:
        transform = matrix_to_transform_stamped(T_world_cam, stamp, frames.world_frame,
                                                camera_frame, types)
    if out.publish_odometry and frames.tf_mode is not TfMode.REP105:
        odometry, pose = odometry_messages(T_world_cam, stamp, camera_frame, config, types)
    return ResultMessages(camera_frame=camera_frame, depth=depth_msg, depth_info=depth_info,
                          cloud=cloud, dynamic_mask=mask_msg, dynamic_mask_info=mask_info,
                          confidence=confidence, transform=transform, odometry=odometry,
                          pose=pose)
