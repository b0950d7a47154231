"""A bag's TF tree (``/tf`` and ``/tf_static``): frames joined by links, transforms looked up.

The one reader of a bag's transform tree: the replay's odometry mounts its child frame on the
image frame through :meth:`TfTree.static_transform` (static links only), the mapper places the
depth's frame in the world through :meth:`TfTree.lookup` (each link interpolated at the stamps).

Conventions: ``T_a_b`` is the pose of frame ``b`` in frame ``a`` (it maps points in ``b`` to
``a``), (4, 4) float64, translation in metres; a link stores ``T_parent_child`` as its
TransformStamped carries it (``header.frame_id`` the parent). Stamps are integer nanoseconds.
Frame ids are compared without a leading ``/``. A child has one parent (TF's rule): a later
transform naming another parent replaces the link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from align3r_ros.bag.reader import TF_TYPE, BagReader
from align3r_ros.errors import BagError, ConversionError
from align3r_ros.geometry.se3 import invert_transform
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.transforms import transform_to_matrix
from align3r_ros.streams.association import interpolate_poses

#: the static transforms' topic (latched); namespaced ones (``/robot/tf_static``) count too
TF_STATIC = '/tf_static'


def is_static_topic(topic: str) -> bool:
    """The TF topic carries static transforms (``/tf_static``, or ``<namespace>/tf_static``)."""
    return topic.rsplit('/', 1)[-1] == TF_STATIC.lstrip('/')


def frame_name(frame_id: str) -> str:
    """A header's frame id as the tree compares it (no leading ``/``)."""
    return str(frame_id).lstrip('/')


class MissingTransformError(BagError):
    """No chain of links joins the two frames asked for."""


@dataclass
class PoseTrack:
    """Stamped samples of one transform ``T_parent_child`` (metres), filled while reading."""

    samples: Dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, stamp_ns: int, T_parent_child: np.ndarray) -> None:
        self.samples[int(stamp_ns)] = np.asarray(T_parent_child, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.samples)

    def at(self, stamps_ns: np.ndarray, max_gap_ns: int) -> Tuple[np.ndarray, np.ndarray]:
        """((Q, 4, 4) ``T_parent_child``, NaN where none; (Q,) bool found) at the query stamps
        (ns): interpolated (translation linearly, rotation by slerp) between samples at most
        ``max_gap_ns`` apart."""
        stamps = np.array(sorted(self.samples), dtype=np.int64)
        poses = np.stack([self.samples[int(s)] for s in stamps]) if stamps.size else \
            np.zeros((0, 4, 4))
        return interpolate_poses(stamps_ns, stamps, poses, max_gap_ns)


@dataclass
class _Link:
    """The link of one child frame to its parent."""

    parent: str
    static: Optional[np.ndarray] = None    # (4, 4) T_parent_child from /tf_static
    track: PoseTrack = field(default_factory=PoseTrack)

    @property
    def is_static(self) -> bool:
        """Only a static transform (a link that also has /tf samples is looked up by them)."""
        return self.static is not None and not len(self.track)


class TfTree:
    """The TF tree of a bag, looked up between frames and at stamps.

    Args:
        max_gap_ns: the widest spacing of two /tf samples of a link bridged by interpolation.

    Attributes:
        world_frame: the root reached by the last :meth:`lookup` ('' before one).
    """

    def __init__(self, max_gap_ns: int) -> None:
        self.max_gap_ns = int(max_gap_ns)
        self._links: Dict[str, _Link] = {}
        self.world_frame = ''

    @classmethod
    def from_bag(cls, reader: BagReader, max_gap_ns: int,
                 dynamic: bool = True) -> 'TfTree':
        """The tree of the bag's TF topics (only its static ones when not ``dynamic``)."""
        tree = cls(max_gap_ns)
        topics = [t.name for t in reader.topics
                  if t.msgtype == TF_TYPE and (dynamic or is_static_topic(t.name))]
        if topics:
            for item in reader.messages(topics):
                tree.add(item.msg, static=is_static_topic(item.topic))
        return tree

    def add(self, msg: Any, static: bool) -> None:
        """One tf2_msgs/TFMessage (its transforms with an empty or equal parent and child are
        passed over).

        Raises:
            ConversionError: a transform's rotation is not a quaternion (zero, NaN), named by
                its frames and stamp.
        """
        for transform in msg.transforms:
            child = frame_name(transform.child_frame_id)
            parent = frame_name(transform.header.frame_id)
            if not child or not parent or child == parent:
                continue
            stamp = header_stamp_ns(transform.header)
            try:
                T = transform_to_matrix(transform.transform)
            except ConversionError as exc:
                topic = TF_STATIC if static else '/tf'
                raise ConversionError(f'{topic} transform {parent} -> {child} at {stamp} ns: '
                                      f'{exc}') from None
            link = self._links.get(child)
            if link is None or link.parent != parent:
                link = self._links[child] = _Link(parent)
            if static:
                link.static = T
            else:
                link.track.add(stamp, T)

    def __len__(self) -> int:
        """The number of links (child frames)."""
        return len(self._links)

    def chain(self, frame: str) -> List[str]:
        """The frames from ``frame`` up to its root, ``frame`` first (a cycle stops the walk)."""
        chain = [frame_name(frame)]
        while chain[-1] in self._links and self._links[chain[-1]].parent not in chain:
            chain.append(self._links[chain[-1]].parent)
        return chain

    def _static_ancestors(self, frame: str) -> Dict[str, np.ndarray]:
        """ancestor -> ``T_ancestor_frame`` up ``frame``'s static links, ``frame`` included."""
        ancestors = {frame: np.eye(4)}
        T, current = np.eye(4), frame
        while current in self._links and self._links[current].is_static:
            link = self._links[current]
            if link.parent in ancestors:
                break   # a cycle
            T = link.static @ T
            current = link.parent
            ancestors[current] = T
        return ancestors

    def static_transform(self, parent: str, child: str) -> np.ndarray:
        """(4, 4) ``T_parent_child`` through static links only, up from both frames to a common
        ancestor (either way round: ``child`` may be above ``parent``); the identity when they
        are one frame.

        Raises:
            MissingTransformError: no chain of static links joins them
                (``/tf_static has no transform parent -> child``).
        """
        parent, child = frame_name(parent), frame_name(child)
        up_parent, up_child = self._static_ancestors(parent), self._static_ancestors(child)
        for ancestor, T_ancestor_child in up_child.items():
            if ancestor in up_parent:
                return invert_transform(up_parent[ancestor]) @ T_ancestor_child
        raise MissingTransformError(f'{TF_STATIC} has no transform {parent} -> {child}')

    def lookup(self, frame: str, stamps_ns: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """((Q, 4, 4) ``T_root_frame``, NaN where not found; (Q,) bool found) at the query
        stamps (ns), the root being the top of :meth:`chain` (kept in :attr:`world_frame`).

        Static links hold at every stamp; a link with /tf samples is interpolated between them
        (at most ``max_gap_ns`` apart). A stamp is found when every link of the chain is; a
        frame with no link (unknown, or a root) is found at no stamp.
        """
        stamps_ns = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
        chain = self.chain(frame)
        self.world_frame = chain[-1]
        poses = np.tile(np.eye(4), (stamps_ns.size, 1, 1))
        found = np.full(stamps_ns.size, len(chain) > 1)
        for child in chain[:-1]:
            link = self._links[child]
            if link.is_static:
                poses = np.einsum('ij,qjk->qik', link.static, poses)
                continue
            T, ok = link.track.at(stamps_ns, self.max_gap_ns)
            found &= ok
            poses = np.einsum('qij,qjk->qik', np.where(ok[:, None, None], T, np.eye(4)), poses)
        poses[~found] = np.nan
        return poses, found
