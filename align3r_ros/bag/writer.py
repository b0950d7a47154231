"""Writing rosbag2 bags atomically with ``rosbags``.

The bag is written inside a hidden staging directory beside the output and moved to the output
path only once it is closed, so an interrupted run never leaves a bag that looks complete. The
same staging scheme serves every tool output (:func:`staged`, reports, exported files):
``.NAME.partial-PID`` beside ``NAME`` while writing; an existing output replaced on request is
set aside as ``.NAME.replaced-PID`` until the new one is in place. A run killed outright (SIGKILL,
power loss) leaves these behind; :func:`remove_stale_staging` clears them on the next run: stale
staging is deleted, a set-aside output is put back when nothing replaced it.
Defaults follow what Humble and Jazzy both read: metadata version 8 and sqlite3 storage; mcap on
request. Every topic declares its offered QoS: reliable + volatile for outputs, reliable +
transient-local for ``/tf_static`` (latched).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from align3r_ros.config import StrEnum
from align3r_ros.errors import BagError

logger = logging.getLogger(__name__)


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


def staging_path(output: 'Path | str', role: str = 'partial', pid: Optional[int] = None) -> Path:
    """The hidden sibling ``.NAME.<role>-PID`` of ``output`` (role: partial or replaced)."""
    output = Path(output)
    return output.parent / f'.{output.name}.{role}-{os.getpid() if pid is None else pid}'


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_empty_folder(path: 'Path | str') -> bool:
    """A real folder holding nothing: an output there overwrites nothing."""
    path = Path(path)
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_stale_staging(output: 'Path | str') -> List[str]:
    """Clear what killed runs left beside ``output``; one line per action, for the user.

    ``.NAME.partial-PID`` of a process that no longer runs is deleted. ``.NAME.replaced-PID``
    (an earlier output set aside by a killed run) is put back at ``output`` when nothing is
    there, else deleted (the new output was already in place). Staging of live processes is left
    alone and reported.
    """
    output = Path(output)
    folder = output.parent
    if not folder.is_dir():
        return []
    pattern = re.compile(rf'^\.{re.escape(output.name)}\.(partial|replaced)-(\d+)$')
    notes: List[str] = []
    for entry in sorted(folder.iterdir()):
        match = pattern.match(entry.name)
        if match is None:
            continue
        role, pid = match.group(1), int(match.group(2))
        if pid == os.getpid():
            continue  # this process's own staging, in use right now
        if _pid_alive(pid):
            notes.append(f'{entry} belongs to a running process (pid {pid}); left alone')
        elif role == 'partial':
            _remove(entry)
            notes.append(f'removed {entry}, left by an interrupted run (pid {pid})')
        elif output.exists() or output.is_symlink():
            _remove(entry)
            notes.append(f'removed {entry}, the earlier output an interrupted run had already '
                         f'replaced (pid {pid})')
        else:
            os.replace(entry, output)
            notes.append(f'restored {output} from {entry.name}, set aside by an interrupted '
                         f'run (pid {pid})')
    for note in notes:
        logger.info(note)
    return notes


def publish(staging: Path, output: Path, overwrite: bool = False) -> None:
    """Move the finished ``staging`` to ``output`` (same folder: an atomic rename).

    With ``overwrite`` an existing ``output`` is set aside first and deleted once the new one is
    in place (restored if the rename fails). Without it an existing ``output`` is a BagError.
    """
    if staging.is_dir() and is_empty_folder(output):
        output.rmdir()  # an empty folder holds nothing to keep
    if not (output.exists() or output.is_symlink()):
        os.replace(staging, output)
        return
    if not overwrite:
        raise BagError(f'output {output} appeared while writing (another run?); choose '
                       'another path or remove it')
    aside = staging_path(output, 'replaced')
    _remove(aside)
    os.replace(output, aside)
    try:
        os.replace(staging, output)
    except BaseException:
        os.replace(aside, output)
        raise
    _remove(aside)


@contextlib.contextmanager
def set_aside(output: 'Path | str', enabled: bool = True) -> Iterator[None]:
    """For writers that refuse an existing path: move ``output`` out of their way meanwhile.

    With ``enabled`` and ``output`` present, it waits as ``.NAME.replaced-PID`` while the block
    runs; it is deleted when the block succeeds and put back when the block fails (Ctrl-C and
    SIGTERM included; whatever the block left at ``output`` is removed first).
    """
    output = Path(output)
    if not enabled or not (output.exists() or output.is_symlink()):
        yield
        return
    aside = staging_path(output, 'replaced')
    _remove(aside)
    os.replace(output, aside)
    try:
        yield
    except BaseException:
        _remove(output)
        os.replace(aside, output)
        raise
    _remove(aside)


@contextlib.contextmanager
def staged(output: 'Path | str', overwrite: bool = False) -> Iterator[Path]:
    """Write a file or folder at a hidden staging path; it becomes ``output`` on a clean exit.

    Yields the staging path (nothing exists there yet; the parent folders do). On any exception
    (Ctrl-C and SIGTERM included) the staging is removed and ``output`` is left as it was.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(output)
    _remove(staging)
    try:
        yield staging
        if not (staging.exists() or staging.is_symlink()):
            raise BagError(f'nothing was written for {output}')
        publish(staging, output, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            _remove(staging)
        raise


class AtomicBagWriter:
    """A rosbag2 writer that publishes its output directory only when complete.

    Use as a context manager; on an exception the staging directory is removed and the output
    path is left untouched. Stale staging of killed runs beside ``output`` is cleared on entry.

    Args:
        output: the bag directory to create (must not exist unless ``overwrite``).
        storage: sqlite3 (default) or mcap.
        version: rosbag2 metadata version, 8 (Humble and newer read it) or 9.
        typestore: ``rosbags`` typestore for serialisation (default: ROS 2 Humble).
        overwrite: replace an existing ``output``, only once the new bag is complete.
    """

    def __init__(self, output: 'Path | str', storage: Storage = Storage.SQLITE3,
                 version: int = 8, typestore: Any = None, overwrite: bool = False) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.output = Path(output)
        self.storage = Storage(storage)
        self.version = int(version)
        self.overwrite = bool(overwrite)
        self.typestore = typestore if typestore is not None else \
            get_typestore(Stores.ROS2_HUMBLE)
        self._staging = staging_path(self.output)
        self._writer = None
        self._connections: Dict[str, Any] = {}
        self.message_count = 0

    def __enter__(self) -> 'AtomicBagWriter':
        from rosbags.rosbag2 import StoragePlugin, Writer

        if self.output.exists() and not self.overwrite:
            raise BagError(f'output {self.output} exists already; choose another path or '
                           'remove it')
        if not self.output.parent.is_dir():
            raise BagError(f'output folder {self.output.parent} does not exist')
        remove_stale_staging(self.output)
        shutil.rmtree(self._staging, ignore_errors=True)
        plugin = StoragePlugin.MCAP if self.storage is Storage.MCAP else StoragePlugin.SQLITE3
        try:
            self._staging.mkdir()
            self._writer = Writer(self._staging / self.output.name, version=self.version,
                                  storage_plugin=plugin)
            self._writer.open()
        except BaseException as exc:  # Ctrl-C / SIGTERM here too: __exit__ will not run
            shutil.rmtree(self._staging, ignore_errors=True)
            if not isinstance(exc, Exception):
                raise
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
        try:
            self._writer.write(connection, int(stamp_ns), data)
        except Exception as exc:  # sqlite3/OSError: full disk, file size limit, I/O error
            raise BagError(f'cannot write bag {self.output}: {exc}') from None
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
            if self.output.exists() and not self.overwrite:
                raise BagError(f'output {self.output} appeared while writing; the new bag '
                               f'is kept in {self._staging}')
            publish(self._staging / self.output.name, self.output, self.overwrite)
            self._staging.rmdir()
        except BagError:
            raise
        except BaseException as exc:  # a full disk, or Ctrl-C / SIGTERM while closing
            shutil.rmtree(self._staging, ignore_errors=True)
            if not isinstance(exc, Exception):
                raise
            raise BagError(f'cannot finish bag {self.output}: {exc}') from None
