"""Map frames out of an output bag: depth, CameraInfo, the camera pose and the dynamic mask.

Reads what ``align3r-replay`` / ``align3r-demo`` write and what a recording of the node holds
(topic names: :class:`~align3r_ros.messages.output_topics.OutputTopics` of a node ``align3r``
in the root namespace, or the user's). Two passes: :meth:`OutputBagSource.scan` reads the small
things (depth stamps and frames, CameraInfo, poses, mask stamps) and checks that the bag can
make a map at all; iterating then decodes depth and masks one frame at a time.

Missing inputs are one :class:`BagError` naming what is missing and listing the bag's topics;
a frame that cannot be used (no pose or CameraInfo at its stamp, a size mismatch, an
undecodable image) is skipped and counted, with its reason.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from align3r_ros.bag.input_frames import DEPTH_MAX_DIFFERENCE_NS, add_camera_info
from align3r_ros.bag.reader import (CAMERA_INFO_TYPE, IMAGE_TYPE, POSE_TYPES, TF_TYPE, BagReader,
                                    TopicSummary, describe_topics)
from align3r_ros.errors import BagError, ConversionError
from align3r_ros.bag.tf_tree import TfTree, frame_name, is_static_topic
from align3r_ros.streams.association import NO_MATCH, associate_nearest
from align3r_ros.mapping.frames import MapFrame
from align3r_ros.mapping.poses import POSE_MAX_GAP_NS, TopicPoses
from align3r_ros.messages import image as image_conv
from align3r_ros.messages.camera_info import CameraModel
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.output_topics import OUTPUT_TOPICS

_NAMES = OUTPUT_TOPICS.resolved()
#: the pose source that reads /tf and /tf_static instead of a pose topic
TF_SOURCE = 'tf'


@dataclass(frozen=True)
class MapTopics:
    """The topics a map is made from (defaults: the node's, as the replay writes them).

    Attributes:
        depth: depth Image topic (32FC1, or 16UC1 millimetres).
        camera_info: its CameraInfo topic.
        pose: a pose topic (Odometry of the depth's optical frame, PoseStamped, ...), or
            :data:`TF_SOURCE` for the TF tree; None: the odometry topic when it holds the
            depth's frame, else the TF tree.
        mask: the dynamic mask Image topic (mono8, non-zero = dynamic), read where present.
    """

    depth: str = _NAMES.depth
    camera_info: str = _NAMES.depth_info
    pose: Optional[str] = None
    mask: str = _NAMES.dynamic_mask


@dataclass
class ScanResult:
    """What the first pass found.

    Attributes:
        depth_stamps_ns: (N,) the depth images' stamps, bag order.
        depth_frames: their header frame ids.
        cameras: (stamp, camera) of every usable CameraInfo.
        mask_stamps_ns: stamps of the dynamic mask images.
        pose_source: the pose topic read, or :data:`TF_SOURCE`.
        warnings: problems worth a line (bad CameraInfo, ...).
    """

    depth_stamps_ns: List[int] = field(default_factory=list)
    depth_frames: List[str] = field(default_factory=list)
    cameras: List[Tuple[int, CameraModel]] = field(default_factory=list)
    mask_stamps_ns: List[int] = field(default_factory=list)
    pose_source: str = ''
    warnings: List[str] = field(default_factory=list)


def _summary(topics: Tuple[TopicSummary, ...], name: str) -> Optional[TopicSummary]:
    return next((t for t in topics if t.name == name and t.count > 0), None)


class OutputBagSource:
    """The map frames of one output bag.

    Args:
        reader: an open :class:`BagReader`.
        topics: the topics to read.
        need_mask: the dynamic mask is required (``--apply-mask``): a bag without the mask
            topic is a BagError, a depth image without a mask at its stamp is skipped.

    Attributes:
        skipped: reason -> count of frames that could not be used.
        world_frame: the frame of the poses ('' before iterating).
    """

    def __init__(self, reader: BagReader, topics: MapTopics = MapTopics(),
                 need_mask: bool = False) -> None:
        self.reader = reader
        self.topics = topics
        self.need_mask = need_mask
        self.scan_result = ScanResult()
        self.skipped: Dict[str, int] = collections.Counter()
        self.world_frame = ''
        self._poses: Union[TopicPoses, TfTree, None] = None
        self._has_mask = False

    # ---- pass 1 -------------------------------------------------------------------------
    def _require(self, name: str, types: Tuple[str, ...], what: str, flag: str) -> None:
        bag_topics = self.reader.topics
        summary = _summary(bag_topics, name)
        if summary is None:
            raise BagError(f'no {what} in {self.reader.path}: topic {name} is missing or '
                           f'empty (name another with {flag}); it has: '
                           f'{describe_topics(bag_topics)}')
        if summary.msgtype not in types:
            raise BagError(f'{what} topic {name} has type {summary.msgtype}; expected '
                           f'{" or ".join(types)}')

    def _pose_source(self) -> str:
        """The pose topic to read, or TF_SOURCE (before the scan: by topic names and types)."""
        bag_topics = self.reader.topics
        has_tf = any(t.msgtype == TF_TYPE and t.count > 0 for t in bag_topics)
        requested = self.topics.pose
        if requested == TF_SOURCE:
            if not has_tf:
                raise BagError(f'no camera poses in {self.reader.path}: --pose-topic tf '
                               f'needs /tf; it has: {describe_topics(bag_topics)}')
            return TF_SOURCE
        if requested:
            self._require(requested, POSE_TYPES, 'camera poses', '--pose-topic')
            return requested
        if _summary(bag_topics, _NAMES.odometry) is not None:
            return _NAMES.odometry
        if has_tf:
            return TF_SOURCE
        raise BagError(f'no camera poses in {self.reader.path}: neither {_NAMES.odometry} nor '
                       f'/tf (name a pose topic with --pose-topic); it has: '
                       f'{describe_topics(bag_topics)}')

    def scan(self) -> ScanResult:
        """Read stamps, CameraInfo and poses; check the bag holds everything a map needs.

        Raises:
            BagError: no depth, CameraInfo, poses (or mask where needed), or none of the
                poses is of the depth's frame.
        """
        t, result = self.topics, self.scan_result
        self._require(t.depth, (IMAGE_TYPE,), 'depth images', '--depth-topic')
        self._require(t.camera_info, (CAMERA_INFO_TYPE,), 'CameraInfo', '--camera-info-topic')
        self._has_mask = _summary(self.reader.topics, t.mask) is not None
        if self.need_mask:
            self._require(t.mask, (IMAGE_TYPE,), 'dynamic mask (--apply-mask)', '--mask-topic')
        source = self._pose_source()
        result.pose_source = source
        tf_topics = [s.name for s in self.reader.topics if s.msgtype == TF_TYPE]
        topic_poses, tree = TopicPoses(), TfTree(POSE_MAX_GAP_NS)
        names = [t.depth, t.camera_info] + ([t.mask] if self._has_mask else []) + \
            (tf_topics if source == TF_SOURCE else [source])
        for item in self.reader.messages(names):
            if item.topic == t.depth:
                result.depth_stamps_ns.append(header_stamp_ns(item.msg.header))
                result.depth_frames.append(frame_name(item.msg.header.frame_id))
            elif item.topic == t.camera_info:
                add_camera_info(item.msg, result.cameras, result.warnings)
            elif item.topic == t.mask:
                result.mask_stamps_ns.append(header_stamp_ns(item.msg.header))
            elif source == TF_SOURCE:
                tree.add(item.msg, static=is_static_topic(item.topic))
            else:
                topic_poses.add(item.msg)
        if not result.cameras:
            raise BagError(f'no usable CameraInfo on {t.camera_info}: '
                           f'{"; ".join(result.warnings) or "no message"}')
        self._poses = tree if source == TF_SOURCE else topic_poses
        self._check_pose_frames(topic_poses, tree, source)
        return result

    def _check_pose_frames(self, topic_poses: TopicPoses, tree: TfTree, source: str) -> None:
        frames = set(self.scan_result.depth_frames)
        if source == TF_SOURCE:
            if not any(len(tree.chain(frame)) > 1 for frame in frames):
                raise BagError(f'no camera poses: /tf has no transform to the depth\'s frame '
                               f'{", ".join(sorted(frames))}')
            return
        if not len(topic_poses.track):
            raise BagError(f'no camera poses: {source} holds no pose')
        children = topic_poses.child_frames - {''}
        if children and not children & frames:
            raise BagError(f'{source} gives the pose of {", ".join(sorted(children))}, not of '
                           f'the depth\'s frame {", ".join(sorted(frames))}; use --pose-topic '
                           f'{TF_SOURCE} (the TF tree) or another pose topic')

    # ---- pass 2 -------------------------------------------------------------------------
    def _skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def _cameras_for(self, stamps: np.ndarray) -> List[Optional[CameraModel]]:
        cameras = self.scan_result.cameras
        index = associate_nearest(stamps, [s for s, _ in cameras], DEPTH_MAX_DIFFERENCE_NS)
        return [None if k == NO_MATCH else cameras[int(k)][1] for k in index]

    def _poses_at(self, stamps: np.ndarray, frames: List[str]) -> Tuple[np.ndarray, np.ndarray]:
        poses = np.full((stamps.size, 4, 4), np.nan)
        found = np.zeros(stamps.size, dtype=bool)
        for frame in sorted(set(frames)):
            rows = np.array([f == frame for f in frames])
            poses[rows], found[rows] = self._poses.lookup(frame, stamps[rows])
        self.world_frame = self._poses.world_frame
        return poses, found

    def __iter__(self) -> Iterator[MapFrame]:
        if self._poses is None:
            self.scan()
        result, t = self.scan_result, self.topics
        self.skipped = collections.Counter()   # counts of this pass
        stamps = np.array(result.depth_stamps_ns, dtype=np.int64)
        cameras = self._cameras_for(stamps)
        poses, has_pose = self._poses_at(stamps, result.depth_frames)
        mask_stamps = set(result.mask_stamps_ns)
        depth_waiting: Dict[int, List[Tuple[int, Any]]] = collections.defaultdict(list)
        masks: Dict[int, Any] = {}
        index = 0
        names = [t.depth] + ([t.mask] if self._has_mask else [])
        for item in self.reader.messages(names):
            stamp = header_stamp_ns(item.msg.header)
            if item.topic == t.depth:
                if stamp in mask_stamps and stamp not in masks:
                    depth_waiting[stamp].append((index, item.msg))  # its mask comes later
                else:
                    mask = masks.pop(stamp, None)
                    frame = self._frame(index, item.msg, mask, cameras, poses, has_pose)
                    if frame is not None:
                        yield frame
                index += 1
            elif stamp in depth_waiting:
                for i, msg in depth_waiting.pop(stamp):
                    frame = self._frame(i, msg, item.msg, cameras, poses, has_pose)
                    if frame is not None:
                        yield frame
            else:
                masks[stamp] = item.msg   # until its depth comes (held only that long)

    def _frame(self, i: int, msg: Any, mask_msg: Any, cameras: List[Optional[CameraModel]],
               poses: np.ndarray, has_pose: np.ndarray) -> Optional[MapFrame]:
        camera = cameras[i]
        if camera is None:
            self._skip('no CameraInfo at its stamp')
            return None
        if not has_pose[i]:
            self._skip('no camera pose at its stamp')
            return None
        try:
            depth = image_conv.depth_msg_to_metres(msg)
            camera.check_image_size(*depth.shape)
            mask = None
            if mask_msg is not None:
                mask = image_conv.image_msg_to_rgb(mask_msg)[:, :, 0] > 0
                if mask.shape != depth.shape:
                    raise ConversionError(f'the mask is {mask.shape[1]}x{mask.shape[0]}, the '
                                          f'depth {depth.shape[1]}x{depth.shape[0]}')
        except ConversionError as exc:
            self._skip(str(exc))
            return None
        if self.need_mask and mask is None:
            self._skip('no dynamic mask at its stamp')
            return None
        if not np.isfinite(depth).any():
            self._skip('no valid depth')
            return None
        return MapFrame(stamp_ns=int(self.scan_result.depth_stamps_ns[i]), depth=depth,
                        K=camera.K, T_world_cam=poses[i], dynamic_mask=mask)
