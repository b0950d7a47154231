"""Reading recorded bags with ``rosbags`` (no ROS installation needed).

Accepts a rosbag2 directory (sqlite3 or mcap, metadata version 8 or 9), a single rosbag2 storage
file (``.db3`` / ``.mcap``) and ROS 1 ``.bag`` files. Every failure of the underlying reader
(missing, corrupt, truncated, unknown storage) becomes one :class:`BagError` naming the path.
ROS 1 messages are presented with ROS 2 field names where they differ (CameraInfo ``K`` → ``k``),
so one set of converters reads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, Sequence, Tuple

from align3r_ros.errors import BagError

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
TF_TYPE = 'tf2_msgs/msg/TFMessage'
POSE_TYPES = ('geometry_msgs/msg/PoseStamped', 'nav_msgs/msg/Odometry',
              'geometry_msgs/msg/TransformStamped', 'geometry_msgs/msg/PoseWithCovarianceStamped')


@dataclass(frozen=True)
class TopicSummary:
    """One topic of a bag: name, ROS 2 style type name and message count."""

    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagMessage:
    """One deserialized message: topic, bag log time (ns) and the message object."""

    topic: str
    log_time_ns: int
    msg: Any


def describe_topics(topics: Sequence[TopicSummary]) -> str:
    """'name (type, N msgs), ...' for error messages."""
    if not topics:
        return 'the bag has no topics'
    return ', '.join(f'{t.name} ({t.msgtype}, {t.count} msgs)' for t in topics)


def _ros1_compatible(msg: Any, msgtype: str) -> Any:
    """ROS 1 CameraInfo spells its arrays in capitals; present the ROS 2 names."""
    if msgtype == CAMERA_INFO_TYPE and not hasattr(msg, 'k') and hasattr(msg, 'K'):
        return SimpleNamespace(header=msg.header, height=msg.height, width=msg.width,
                               distortion_model=msg.distortion_model, d=msg.D, k=msg.K,
                               r=msg.R, p=msg.P, binning_x=msg.binning_x,
                               binning_y=msg.binning_y, roi=msg.roi)
    return msg


class BagReader:
    """A bag opened for reading; use as a context manager.

    Args:
        path: rosbag2 directory, ``.db3`` / ``.mcap`` file, or a ROS 1 ``.bag`` file.
    """

    def __init__(self, path: 'Path | str') -> None:
        self.path = Path(path)
        self._reader = None
        self._topics: Tuple[TopicSummary, ...] = ()

    def __enter__(self) -> 'BagReader':
        self.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def open(self) -> None:
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore

        if not self.path.exists():
            raise BagError(f'input bag not found: {self.path}')
        try:
            reader = AnyReader([self.path],
                               default_typestore=get_typestore(Stores.ROS2_HUMBLE))
            reader.open()
        except BagError:
            raise
        except Exception as exc:  # rosbags raises many types for corrupt input
            raise BagError(f'cannot read bag {self.path}: {_one_line(exc)}') from None
        self._reader = reader
        counts: Dict[str, int] = {}
        types: Dict[str, str] = {}
        for connection in reader.connections:
            counts[connection.topic] = counts.get(connection.topic, 0) + connection.msgcount
            types[connection.topic] = connection.msgtype
        self._topics = tuple(TopicSummary(name, types[name], counts[name])
                             for name in sorted(counts))

    def close(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            finally:
                self._reader = None

    @property
    def topics(self) -> Tuple[TopicSummary, ...]:
        """Every topic of the bag, sorted by name."""
        return self._topics

    def topic(self, name: str) -> TopicSummary:
        """The summary of ``name``; BagError listing the bag's topics when it is absent."""
        for summary in self._topics:
            if summary.name == name:
                return summary
        raise BagError(f'topic {name} is not in {self.path}; it has: '
                       f'{describe_topics(self._topics)}')

    def messages(self, topics: Sequence[str]) -> Iterator[BagMessage]:
        """Deserialized messages of ``topics`` in log-time order.

        Raises:
            BagError: the bag turns out corrupt or truncated while reading, or a message cannot
                be deserialized.
        """
        if self._reader is None:
            raise BagError('bag is not open')
        wanted = set(topics)
        connections = [c for c in self._reader.connections if c.topic in wanted]
        if not connections:
            return
        try:
            for connection, log_time, raw in self._reader.messages(connections=connections):
                msg = self._reader.deserialize(raw, connection.msgtype)
                yield BagMessage(connection.topic, int(log_time),
                                 _ros1_compatible(msg, connection.msgtype))
        except BagError:
            raise
        except Exception as exc:
            raise BagError(f'bag {self.path} is corrupt or truncated: {_one_line(exc)}') \
                from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {text[0] if text else ""}'.rstrip(': ')
