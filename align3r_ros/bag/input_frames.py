"""Frames out of a bag: decoded, with the camera model, prior depth and ground truth associated.

Images are handed over as recorded, with CameraInfo's ``distortion_model`` / ``D`` on the frame:
the engine rectifies (``engine/steps/rectify.py``), as it does for the live node.

Two passes over the bag. The first reads the small things — image stamps, CameraInfo, ground-truth
poses and depth stamps — so that the association is known and the number of frames is known (for
the progress bar). The second decodes images and depth (the prior topic and the ground-truth depth
topic, associated alike; they may be one topic) and yields frames in the bag's order, holding only
the depth maps that still wait for their image.

Input problems never stop the replay silently: a frame that cannot be decoded (unknown encoding,
empty image, CameraInfo of another size) is skipped and counted in ``warnings``; when no frame at
all can be used a :class:`BagError` says why. Stamps are handed over as recorded: the engine's
frame policy decides about equal or backward stamps (``engine`` module docstring).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.topics import InputTopics
from align3r_ros.errors import BagError, ConversionError
from align3r_ros.messages import image as image_conv
from align3r_ros.messages.camera_info import CameraModel, camera_info_to_camera
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.transforms import stamped_poses
from align3r_ros.streams.association import NO_MATCH, associate_nearest, interpolate_poses
from align3r_ros.streams.depth import depth_at_size
from align3r_ros.structures import Frame

logger = logging.getLogger(__name__)

DEPTH_MAX_DIFFERENCE_NS = 20_000_000   # colour/depth pairs: TUM's associate.py default
GT_POSE_MAX_GAP_NS = 200_000_000          # pose streams at >= 5 Hz are interpolated


@dataclass(frozen=True)
class BagFrame:
    """A frame ready for the engine, with what the outputs need from its input message.

    Attributes:
        frame: the engine input (RGB and K as recorded, the distortion model and coefficients
            when rectification is on, the prior depth in metres and ground truth if any, all
            registered to the recorded image).
        frame_id: the image header's frame id (the optical frame of the outputs).
        camera: the camera model at the image size, or None without CameraInfo.
    """

    frame: Frame
    frame_id: str
    camera: Optional[CameraModel]


@dataclass
class InputPlan:
    """What the first pass found (mutable while reading, then only read)."""

    image_stamps_ns: List[int] = field(default_factory=list)
    cameras: List[Tuple[int, CameraModel]] = field(default_factory=list)
    gt_pose_stamps_ns: Optional[np.ndarray] = None
    gt_T_world_cam: Optional[np.ndarray] = None
    warnings: List[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return len(self.image_stamps_ns)


def add_camera_info(msg: Any, cameras: List[Tuple[int, CameraModel]],
                    warnings: List[str]) -> None:
    """One sensor_msgs/CameraInfo of a bag scan: its (header stamp ns, camera model) appended
    to ``cameras``, or, when it cannot be used (a zero focal length, a bad size, ...), the
    line ``CameraInfo ignored: <why>`` appended to ``warnings`` instead."""
    try:
        cameras.append((header_stamp_ns(msg.header), camera_info_to_camera(msg)))
    except ConversionError as exc:
        warnings.append(f'CameraInfo ignored: {exc}')


class _DepthTopic:
    """One depth Image topic read beside the images (prior and/or ground truth), by stamp.

    Pass 1 collects its stamps; :meth:`associate` gives each image the nearest message within
    :data:`DEPTH_MAX_DIFFERENCE_NS`; pass 2 decodes (to metres) only the messages some image
    takes and holds each until the last image taking it is emitted.
    """

    def __init__(self, topic: str, what: str) -> None:
        self.topic = topic
        self.what = what
        self.stamps_ns: List[int] = []
        self.for_image = np.zeros(0, dtype=np.int64)
        self._takers: Dict[int, int] = {}   # message index -> images still to take it
        self._cache: Dict[int, Optional[np.ndarray]] = {}
        self._seen = 0   # messages of pass 2 read so far

    def associate(self, image_ns: np.ndarray, warnings: List[str]) -> None:
        self.for_image = associate_nearest(image_ns, self.stamps_ns, DEPTH_MAX_DIFFERENCE_NS)
        if self.stamps_ns and np.all(self.for_image == NO_MATCH):
            warnings.append(f'{self.what} on {self.topic} never associates with an image '
                            f'within {DEPTH_MAX_DIFFERENCE_NS / 1e6:g} ms')
        matched, counts = np.unique(self.for_image[self.for_image != NO_MATCH],
                                    return_counts=True)
        self._takers = {int(j): int(n) for j, n in zip(matched, counts)}

    def add(self, msg: Any, warnings: List[str]) -> None:
        """The next message of this topic in pass 2 (bag order)."""
        if self._seen in self._takers:
            try:
                self._cache[self._seen] = image_conv.depth_msg_to_metres(msg)
            except ConversionError as exc:
                warnings.append(f'{self.what} ignored: {exc}')
                self._cache[self._seen] = None
        self._seen += 1

    def waiting(self, image_index: int) -> bool:
        """The image's depth message is still ahead in the bag."""
        j = int(self.for_image[image_index])
        return j != NO_MATCH and j not in self._cache and j >= self._seen

    def take(self, image_index: int) -> Optional[np.ndarray]:
        """(H', W') float32 metres (NaN invalid) for the image, or None."""
        j = int(self.for_image[image_index])
        if j == NO_MATCH or j not in self._cache:
            return None
        self._takers[j] -= 1
        return self._cache.pop(j) if self._takers[j] == 0 else self._cache[j]


class BagFrameSource:
    """Frames of one bag for one set of topics.

    Args:
        reader: an open :class:`BagReader`.
        topics: the topics to read.
        rectify: give frames CameraInfo's distortion model, so the engine undistorts them
            (False: images are used as recorded).
    """

    def __init__(self, reader: BagReader, topics: InputTopics, rectify: bool = True) -> None:
        self.reader = reader
        self.topics = topics
        self.rectify = rectify
        self.plan = InputPlan()
        self.frames_skipped = 0
        self.frames_without_prior = 0   # frames yielded without a prior from topics.prior
        self._depth: Dict[str, _DepthTopic] = {}   # by topic: prior and GT may be one topic
        for topic, what in ((topics.prior, 'prior depth'), (topics.gt_depth,
                                                           'ground-truth depth')):
            if topic and topic in self._depth:
                self._depth[topic].what = 'prior and ground-truth depth'
            elif topic:
                self._depth[topic] = _DepthTopic(topic, what)

    # ---- pass 1 -------------------------------------------------------------------------
    def scan(self) -> InputPlan:
        """Read stamps, CameraInfo and ground-truth poses; returns (and keeps) the plan."""
        t = self.topics
        pose_topics = [t.gt_pose] if t.gt_pose else []
        if t.gt_tf_frame:
            pose_topics += [s.name for s in self.reader.topics
                            if s.msgtype == 'tf2_msgs/msg/TFMessage']
        names = [n for n in (t.image, t.camera_info) if n] + list(self._depth) + pose_topics
        poses: Dict[int, np.ndarray] = {}
        plan = self.plan
        for item in self.reader.messages(names):
            if item.topic == t.image:
                plan.image_stamps_ns.append(header_stamp_ns(item.msg.header))
            elif item.topic == t.camera_info:
                add_camera_info(item.msg, plan.cameras, plan.warnings)
            elif item.topic in self._depth:
                self._depth[item.topic].stamps_ns.append(header_stamp_ns(item.msg.header))
            else:
                for stamp, T in stamped_poses(item.msg, t.gt_tf_frame):
                    poses[stamp] = T
        if not plan.image_stamps_ns:
            raise BagError(f'image topic {t.image} has no messages')
        if not t.camera_info:
            plan.warnings.append('no CameraInfo topic: intrinsics are estimated (or taken '
                                 'from the camera.* parameters)')
        elif not plan.cameras:
            plan.warnings.append(f'no usable CameraInfo on {t.camera_info}: intrinsics are '
                                 'estimated')
        if (t.gt_pose or t.gt_tf_frame) and not poses:
            where = t.gt_pose or f'/tf child frame {t.gt_tf_frame}'
            plan.warnings.append(f'no ground-truth pose found on {where}')
        if poses:
            stamps = np.array(sorted(poses), dtype=np.int64)
            plan.gt_pose_stamps_ns = stamps
            plan.gt_T_world_cam = np.stack([poses[int(s)] for s in stamps])
        return plan

    # ---- pass 2 -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[BagFrame]:
        if not self.plan.image_stamps_ns:
            self.scan()
        plan, t = self.plan, self.topics
        image_ns = np.array(plan.image_stamps_ns, dtype=np.int64)
        for depth in self._depth.values():
            depth.associate(image_ns, plan.warnings)
        poses, has_pose = self._associated_poses(image_ns)
        pending: List[Tuple[int, Any]] = []   # images waiting for their depth maps
        image_index = 0
        for item in self.reader.messages([t.image] + list(self._depth)):
            if item.topic == t.image:
                pending.append((image_index, item.msg))
                image_index += 1
            else:
                self._depth[item.topic].add(item.msg, plan.warnings)
            while pending:
                i, msg = pending[0]
                if any(depth.waiting(i) for depth in self._depth.values()):
                    break  # a depth map of this image comes later in the bag
                pending.pop(0)
                taken = {topic: depth.take(i) for topic, depth in self._depth.items()}
                gt_depth, prior = taken.get(t.gt_depth), taken.get(t.prior)
                bag_frame = self._make_frame(msg, int(image_ns[i]), gt_depth, prior,
                                             poses[i] if has_pose[i] else None)
                if bag_frame is not None:
                    if t.prior and prior is None:
                        self.frames_without_prior += 1
                    yield bag_frame

    def _associated_poses(self, image_ns: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        plan = self.plan
        if plan.gt_pose_stamps_ns is None:
            return np.zeros((image_ns.size, 4, 4)), np.zeros(image_ns.size, dtype=bool)
        poses, found = interpolate_poses(image_ns, plan.gt_pose_stamps_ns, plan.gt_T_world_cam,
                                         GT_POSE_MAX_GAP_NS)
        if not found.any():
            plan.warnings.append('ground-truth poses never associate with an image stamp '
                                 f'(gap limit {GT_POSE_MAX_GAP_NS / 1e6:g} ms)')
        elif not found.all():
            plan.warnings.append(f'{int((~found).sum())} images have no ground-truth pose')
        return poses, found

    def _skip(self, reason: str) -> None:
        self.frames_skipped += 1
        if self.frames_skipped <= 5:
            self.plan.warnings.append(f'frame skipped: {reason}')
        elif self.frames_skipped == 6:
            self.plan.warnings.append('further skipped frames are only counted')
        logger.warning('frame skipped: %s', reason)

    def _camera_for(self, stamp: int) -> Optional[CameraModel]:
        cameras = self.plan.cameras
        if not cameras:
            return None
        k = associate_nearest([stamp], [s for s, _ in cameras], 2**62)[0]
        return cameras[int(k)][1]

    def _make_frame(self, msg: Any, stamp: int, gt_depth: Optional[np.ndarray],
                    prior: Optional[np.ndarray],
                    T_world_cam: Optional[np.ndarray]) -> Optional[BagFrame]:
        try:
            rgb = image_conv.compressed_msg_to_rgb(msg) if self.topics.compressed else \
                image_conv.image_msg_to_rgb(msg)
        except ConversionError as exc:
            self._skip(str(exc))
            return None
        camera = self._camera_for(stamp)
        if camera is not None and (camera.height, camera.width) != rgb.shape[:2]:
            self._skip(f'CameraInfo is {camera.width}x{camera.height} but the image is '
                       f'{rgb.shape[1]}x{rgb.shape[0]}')
            return None
        distorted = camera is not None and self.rectify and bool(np.any(camera.D))
        frame = Frame(stamp_ns=stamp, rgb=rgb, K=None if camera is None else camera.K,
                      prior=prior, gt_depth=depth_at_size(gt_depth, rgb.shape[:2]),
                      gt_T_world_cam=T_world_cam,
                      distortion_model=camera.distortion_model if distorted else '',
                      D=camera.D if distorted else None)
        return BagFrame(frame=frame, frame_id=str(msg.header.frame_id), camera=camera)
