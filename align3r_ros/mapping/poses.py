"""The camera's pose in the world at the depth's stamps: from a pose topic or from the TF tree.

Two sources, as the node and the replay publish them:

* a pose topic (``~/odometry``: nav_msgs/Odometry of the camera's optical frame in the world;
  PoseStamped, PoseWithCovarianceStamped and TransformStamped are read alike);
* ``/tf`` and ``/tf_static``: the chain from the depth's optical frame up to the root of its
  tree (``world -> camera`` in ``frames.tf_mode: direct``; ``world -> odom -> base -> ...
  -> camera`` in ``rep105``), each link interpolated at the stamp.

Poses are interpolated (translation linear, rotation slerp) between samples at most
:data:`POSE_MAX_GAP_NS` apart, as the ground-truth poses of a replay are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from align3r_ros.bag.input_frames import GT_POSE_MAX_GAP_NS
from align3r_ros.streams.association import interpolate_poses
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.transforms import stamped_poses, transform_to_matrix

#: the widest gap between two pose samples bridged by interpolation (as for ground truth)
POSE_MAX_GAP_NS = GT_POSE_MAX_GAP_NS


@dataclass
class PoseTrack:
    """Stamped samples of one transform (``T_parent_child``), filled while reading a bag."""

    samples: Dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, stamp_ns: int, T_parent_child: np.ndarray) -> None:
        self.samples[int(stamp_ns)] = np.asarray(T_parent_child, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.samples)

    def at(self, stamps_ns: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """((Q, 4, 4) poses, NaN where none; (Q,) bool found) at the query stamps."""
        stamps = np.array(sorted(self.samples), dtype=np.int64)
        poses = np.stack([self.samples[int(s)] for s in stamps]) if stamps.size else \
            np.zeros((0, 4, 4))
        return interpolate_poses(stamps_ns, stamps, poses, POSE_MAX_GAP_NS)


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
        self.child_frames.add(str(getattr(msg, 'child_frame_id', '')).lstrip('/'))

    def lookup(self, frame: str, stamps_ns: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Poses of the topic's frame at the stamps (``frame`` is not consulted)."""
        del frame
        return self.track.at(stamps_ns)


@dataclass
class _Link:
    parent: str
    static: Optional[np.ndarray] = None    # (4, 4) from /tf_static
    track: PoseTrack = field(default_factory=PoseTrack)


class TfTree:
    """The TF tree of a bag (``/tf`` and ``/tf_static``), looked up at stamps.

    Frame ids are compared without a leading ``/``. A child has one parent (TF's rule); a later
    message naming another parent replaces the link.

    Attributes:
        world_frame: the root reached by the last :meth:`lookup` ('' before one).
    """

    def __init__(self) -> None:
        self._links: Dict[str, _Link] = {}
        self.world_frame = ''

    def add(self, msg: Any, static: bool) -> None:
        """One tf2_msgs/TFMessage."""
        for transform in msg.transforms:
            child = str(transform.child_frame_id).lstrip('/')
            parent = str(transform.header.frame_id).lstrip('/')
            if not child or not parent or child == parent:
                continue
            link = self._links.get(child)
            if link is None or link.parent != parent:
                link = self._links[child] = _Link(parent)
            T = transform_to_matrix(transform.transform)
            if static:
                link.static = T
            else:
                link.track.add(header_stamp_ns(transform.header), T)

    def __len__(self) -> int:
        return len(self._links)

    def chain(self, frame: str) -> List[str]:
        """The frames from ``frame`` up to its root, ``frame`` first (a cycle stops the walk)."""
        chain = [frame.lstrip('/')]
        while chain[-1] in self._links and self._links[chain[-1]].parent not in chain:
            chain.append(self._links[chain[-1]].parent)
        return chain

    def lookup(self, frame: str, stamps_ns: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """((Q, 4, 4) ``T_root_frame``, (Q,) bool found) at the query stamps."""
        stamps_ns = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
        chain = self.chain(frame)
        self.world_frame = chain[-1]
        poses = np.tile(np.eye(4), (stamps_ns.size, 1, 1))
        found = np.full(stamps_ns.size, len(chain) > 1)
        for child in chain[:-1]:
            link = self._links[child]
            if link.static is not None and not len(link.track):
                poses = np.einsum('ij,qjk->qik', link.static, poses)
                continue
            T, ok = link.track.at(stamps_ns)
            found &= ok
            poses = np.einsum('qij,qjk->qik', np.where(ok[:, None, None], T, np.eye(4)), poses)
        poses[~found] = np.nan
        return poses, found
