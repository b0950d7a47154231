"""The camera's pose in the world at the depth's stamps: from a pose topic or from the TF tree.

Two sources, as the node and the replay publish them:

* a pose topic (``~/odometry``: nav_msgs/Odometry of the camera's optical frame in the world;
  PoseStamped, PoseWithCovarianceStamped and TransformStamped are read alike);
* ``/tf`` and ``/tf_static``: the chain from the depth's optical frame up to the root of its
  tree (``world -> camera`` in ``frames.tf_mode: direct``; ``world -> odom -> base -> ...
  -> camera`` in ``rep105``), each link interpolated at the stamp: the bag's
  :class:`~align3r_ros.bag.tf_tree.TfTree`, built with :data:`POSE_MAX_GAP_NS`.

Poses are interpolated (translation linear, rotation slerp) between samples at most
:data:`POSE_MAX_GAP_NS` apart, as the ground-truth poses of a replay are.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from align3r_ros.bag.input_frames import GT_POSE_MAX_GAP_NS
from align3r_ros.bag.tf_tree import PoseTrack, frame_name
from align3r_ros.messages.transforms import stamped_poses

#: the widest gap between two pose samples bridged by interpolation (as for ground truth)
POSE_MAX_GAP_NS = GT_POSE_MAX_GAP_NS


class TopicPoses:
    """Poses from one pose topic (Odometry, PoseStamped, ...): the world is its header's frame.

    Attributes:
        world_frame: the messages' header frame id ('' before the first message).
        child_frames: the Odometry ``child_frame_id`` values seen ('' for types without one).
    """

    def __init__(self) -> None:
        self.track = PoseTrack()
        self.world_frame = ''
        self.child_frames: set = set()

    def add(self, msg: Any) -> None:
        for stamp, T in stamped_poses(msg):
            self.track.add(stamp, T)
        self.world_frame = self.world_frame or str(msg.header.frame_id)
        self.child_frames.add(frame_name(getattr(msg, 'child_frame_id', '')))

    def lookup(self, frame: str, stamps_ns: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """((Q, 4, 4) ``T_world_frame``, NaN where none; (Q,) bool found) of the topic's frame
        at the stamps (ns), interpolated as :data:`POSE_MAX_GAP_NS` allows (``frame`` is not
        consulted)."""
        del frame
        return self.track.at(stamps_ns, POSE_MAX_GAP_NS)
