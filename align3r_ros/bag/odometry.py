"""The robot's odometry read from a bag, as the camera's pose in the odometry frame at each image
stamp (``Frame.T_odom_cam``) — the replay's counterpart of ``ros/odometry_input.py``.

Sources (``align3r-replay``):

* ``--odometry-topic T``: nav_msgs/Odometry (``header.frame_id`` the odometry frame,
  ``child_frame_id`` the base or the camera) or geometry_msgs/PoseStamped (the pose of the
  image's own frame: no mounting);
* ``--odometry-tf-frame CHILD [--odometry-parent-frame P]``: the bag's /tf transforms P -> CHILD.

The odometry's child frame is mounted on the image frame through the bag's /tf_static (any chain
of static transforms: :meth:`~align3r_ros.bag.tf_tree.TfTree.static_transform`); when the child
is the image frame itself none is needed. A needed mounting
that /tf_static lacks, a topic that is missing or of another type, or odometry that never
reaches the images, is a one-line :class:`BagError` before any frame is aligned. Poses are
interpolated to the image stamps (translation linearly, rotation by slerp, gaps up to
:data:`MAX_GAP_NS`); an image outside the odometry gets none (counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from align3r_ros.bag.reader import TF_TYPE, BagReader
from align3r_ros.bag.tf_tree import MissingTransformError, TfTree, frame_name, is_static_topic
from align3r_ros.errors import BagError, ConversionError
from align3r_ros.streams.association import interpolate_poses
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.transforms import pose_to_matrix, transform_to_matrix

ODOMETRY_TYPES = ('nav_msgs/msg/Odometry', 'geometry_msgs/msg/PoseStamped')
#: largest spacing of two odometry poses bridged by interpolation, ns.
MAX_GAP_NS = 500_000_000


@dataclass(frozen=True)
class OdometrySpec:
    """Where a replay's odometry is (exactly one of ``topic`` and ``tf_frame``).

    Attributes:
        topic: nav_msgs/Odometry or geometry_msgs/PoseStamped topic, or None.
        tf_frame: child frame of the /tf odometry transform, or None.
        parent_frame: the odometry frame of ``tf_frame`` (e.g. ``odom``).
    """

    topic: Optional[str] = None
    tf_frame: Optional[str] = None
    parent_frame: str = 'odom'

    def describe(self) -> str:
        return f'topic {self.topic}' if self.topic else \
            f'/tf {self.parent_frame} -> {self.tf_frame}'


class BagOdometry:
    """Odometry poses of one bag, mounted on the image frame.

    Attributes:
        stamps_ns: (N,) strictly increasing stamps of the odometry poses.
        T_odom_child: (N, 4, 4) the child's poses in the odometry frame, metres.
        T_child_cam: (4, 4) the image frame in the child frame (identity without a mounting).
        frames_without: images that got no odometry (outside it, or across a gap).
    """

    def __init__(self, stamps_ns: np.ndarray, T_odom_child: np.ndarray,
                 T_child_cam: np.ndarray, spec: OdometrySpec) -> None:
        self.stamps_ns = stamps_ns
        self.T_odom_child = T_odom_child
        self.T_child_cam = T_child_cam
        self.spec = spec
        self.frames_with = 0
        self.frames_without = 0

    def at(self, stamp_ns: int) -> Optional[np.ndarray]:
        """(4, 4) float64 T_odom_cam at ``stamp_ns``, or None (counted)."""
        T, found = interpolate_poses([int(stamp_ns)], self.stamps_ns, self.T_odom_child,
                                     MAX_GAP_NS)
        if not found[0]:
            self.frames_without += 1
            return None
        self.frames_with += 1
        return T[0] @ self.T_child_cam


def _read_poses(reader: BagReader, spec: OdometrySpec) -> Tuple[Dict[int, np.ndarray], str]:
    """stamp -> T_odom_child and the child frame ('' = the image frame: PoseStamped)."""
    poses: Dict[int, np.ndarray] = {}
    child = ''
    if spec.topic:
        summary = reader.topic(spec.topic)
        if summary.msgtype not in ODOMETRY_TYPES:
            raise BagError(f'odometry topic {spec.topic} is {summary.msgtype}; expected '
                           f'{" or ".join(ODOMETRY_TYPES)}')
        for item in reader.messages([spec.topic]):
            msg = item.msg
            pose = msg.pose.pose if hasattr(msg, 'child_frame_id') else msg.pose
            if hasattr(msg, 'child_frame_id'):
                child = frame_name(msg.child_frame_id)
            try:
                poses[header_stamp_ns(msg.header)] = pose_to_matrix(pose)
            except ConversionError:
                continue  # a zero quaternion: that pose is left out
        return poses, child
    parent, child = frame_name(spec.parent_frame), frame_name(spec.tf_frame or '')
    tf_topics = [t.name for t in reader.topics
                 if t.msgtype == TF_TYPE and not is_static_topic(t.name)]
    for item in reader.messages(tf_topics):
        for t in getattr(item.msg, 'transforms', ()):
            if frame_name(t.child_frame_id) == child and frame_name(t.header.frame_id) == parent:
                try:
                    poses[header_stamp_ns(t.header)] = transform_to_matrix(t.transform)
                except ConversionError:
                    continue
    return poses, child


def load_bag_odometry(reader: BagReader, spec: OdometrySpec, image_frame: str,
                      image_stamps_ns: List[int]) -> BagOdometry:
    """Read the odometry of ``spec`` and its mounting on ``image_frame``.

    Raises:
        BagError: (one line) the topic is missing or of another type, no odometry pose, the
            child -> image frame mounting is needed but not in /tf_static, or no image stamp
            lies within the odometry.
    """
    poses, child = _read_poses(reader, spec)
    if not poses:
        raise BagError(f'no odometry on {spec.describe()} in {reader.path}')
    image_frame = frame_name(image_frame)
    if not child or child == image_frame:
        T_child_cam = np.eye(4)
    else:
        static = TfTree.from_bag(reader, MAX_GAP_NS, dynamic=False)
        try:
            T_child_cam = static.static_transform(child, image_frame)
        except MissingTransformError as exc:
            raise BagError(f'odometry on {spec.describe()} is of {child}, but {exc} (the camera '
                           'mounting)') from None
    stamps = np.array(sorted(poses), dtype=np.int64)
    odometry = BagOdometry(stamps, np.stack([poses[int(s)] for s in stamps]), T_child_cam, spec)
    _, found = interpolate_poses(image_stamps_ns, stamps, odometry.T_odom_child, MAX_GAP_NS)
    if not found.any():
        raise BagError(f'odometry on {spec.describe()} never reaches an image stamp (images '
                       f'{min(image_stamps_ns)}..{max(image_stamps_ns)} ns, odometry '
                       f'{stamps[0]}..{stamps[-1]} ns)')
    return odometry


def first_frame_id(reader: BagReader, topic: str) -> str:
    """The header frame id of the first message of ``topic`` ('' when there is none)."""
    for item in reader.messages([topic]):
        return frame_name(item.msg.header.frame_id)
    return ''


def odometry_for_replay(reader: BagReader, spec: Optional[OdometrySpec], image_topic: str,
                        image_stamps_ns: List[int]) -> Optional[BagOdometry]:
    """The replay's odometry (None without ``spec``); errors as :func:`load_bag_odometry`."""
    if spec is None:
        return None
    return load_bag_odometry(reader, spec, first_frame_id(reader, image_topic), image_stamps_ns)


def odometry_warnings(odometry: Optional[BagOdometry]) -> List[str]:
    """The replay report's line about images that went on without odometry ([] when none)."""
    if odometry is None or not odometry.frames_without:
        return []
    return [f'{odometry.frames_without} of {odometry.frames_with + odometry.frames_without} '
            f'frames have no odometry on {odometry.spec.describe()} (outside it, or across a '
            f'gap over {MAX_GAP_NS / 1e6:g} ms); they were aligned without it']
