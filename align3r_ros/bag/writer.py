"""Writing rosbag2 bags atomically with ``rosbags``.

The bag is written inside a hidden staging directory beside the output and moved to the output
path only once it is closed, so an interrupted run never leaves a bag that looks complete.
Defaults follow what Humble and Jazzy both read: metadata version 8 and sqlite3 storage; mcap on
request. Every topic declares its offered QoS: reliable + volatile for outputs, reliable +
transient-local for ``/tf_static`` (latched).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, Optional

from align3r_ros.config import StrEnum
from align3r_ros.errors import BagError


class Storage(StrEnum):
    SQLITE3 = 'sqlite3'
    MCAP = 'mcap'


class Durability(StrEnum):
    VOLATILE = 'volatile'
    TRANSIENT_LOCAL = 'transient_local'


def offered_qos(durability: Durability, depth: int) -> Any:
    """A reliable, keep-last ``depth`` QoS profile with the given durability (rosbags type)."""
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    infinite = QosTime(sec=2147483647, nsec=4294967295)
    return Qos(history=QosHistory.KEEP_LAST, depth=int(depth),
               reliability=QosReliability.RELIABLE,
               durability=(QosDurability.TRANSIENT_LOCAL if durability is
                           Durability.TRANSIENT_LOCAL else QosDurability.VOLATILE),
               deadline=infinite, lifespan=infinite, liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=infinite, avoid_ros_namespace_conventions=False)


class AtomicBagWriter:
    """A rosbag2 writer that publishes its output directory only when complete.

    Use as a context manager; on an exception the staging directory is removed and the output
    path is left untouched.

    Args:
        output: the bag directory to create (must not exist).
        storage: sqlite3 (default) or mcap.
        version: rosbag2 metadata version, 8 (Humble and newer read it) or 9.
        typestore: ``rosbags`` typestore for serialisation (default: ROS 2 Humble).
    """

    def __init__(self, output: 'Path | str', storage: Storage = Storage.SQLITE3,
                 version: int = 8, typestore: Any = None) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.output = Path(output)
        self.storage = Storage(storage)
        self.version = int(version)
        self.typestore = typestore if typestore is not None else \
            get_typestore(Stores.ROS2_HUMBLE)
        self._staging = self.output.parent / f'.{self.output.name}.partial-{os.getpid()}'
        self._writer = None
        self._connections: Dict[str, Any] = {}
        self.message_count = 0

    def __enter__(self) -> 'AtomicBagWriter':
        from rosbags.rosbag2 import StoragePlugin, Writer

        if self.output.exists():
            raise BagError(f'output {self.output} exists already; choose another path or '
                           'remove it')
        if not self.output.parent.is_dir():
            raise BagError(f'output folder {self.output.parent} does not exist')
        shutil.rmtree(self._staging, ignore_errors=True)
        self._staging.mkdir()
        plugin = StoragePlugin.MCAP if self.storage is Storage.MCAP else StoragePlugin.SQLITE3
        try:
            self._writer = Writer(self._staging / self.output.name, version=self.version,
                                  storage_plugin=plugin)
            self._writer.open()
        except Exception as exc:
            shutil.rmtree(self._staging, ignore_errors=True)
            raise BagError(f'cannot create bag {self.output}: {exc}') from None
        return self

    def add_topic(self, topic: str, msgtype: str,
                  durability: Durability = Durability.VOLATILE, depth: int = 5) -> None:
        """Declare a topic with its type and offered QoS (before its first message)."""
        if topic in self._connections:
            return
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self.typestore,
            offered_qos_profiles=[offered_qos(Durability(durability), depth)])

    def write(self, topic: str, stamp_ns: int, msg: Any) -> None:
        """Serialise ``msg`` (a typestore class instance) on a declared topic at ``stamp_ns``."""
        connection = self._connections.get(topic)
        if connection is None:
            raise BagError(f'topic {topic} was not declared before writing')
        data = self.typestore.serialize_cdr(msg, connection.msgtype)
        self._writer.write(connection, int(stamp_ns), data)
        self.message_count += 1

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException],
                 tb: Any) -> None:
        writer, self._writer = self._writer, None
        if exc_type is not None:
            try:
                if writer is not None:
                    writer.close()
            except Exception:  # the bag is discarded anyway
                pass
            shutil.rmtree(self._staging, ignore_errors=True)
            return
        try:
            writer.close()
            if self.output.exists():
                raise BagError(f'output {self.output} appeared while writing; the new bag '
                               f'is kept in {self._staging}')
            os.replace(self._staging / self.output.name, self.output)
            self._staging.rmdir()
        except BagError:
            raise
        except Exception as exc:
            shutil.rmtree(self._staging, ignore_errors=True)
            raise BagError(f'cannot finish bag {self.output}: {exc}') from None
