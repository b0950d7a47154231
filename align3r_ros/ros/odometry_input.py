"""The robot's odometry at each image stamp, for the engine (``Frame.T_odom_cam``).

``input.odometry``:

* ``tf``: tf2 looks up ``frames.odom_frame`` -> the image frame (``frames.camera_frame`` or the
  image header's frame id) at the image stamp; the mounting (base -> camera) comes from the same
  TF tree (usually /tf_static).
* ``topic``: nav_msgs/Odometry on ``input.odometry_topic`` (``header.frame_id`` the odometry
  frame, ``child_frame_id`` the base or the camera) kept in a bounded history and interpolated to
  the image stamp (translation linearly, rotation by slerp); child -> camera from TF (latest,
  a static mounting), identity when the child is the image frame itself.

The lookup runs in the worker thread just before ``engine.push`` (never in the executor: tf2's
listener needs it), waiting at most ``input.odometry_timeout`` for odometry that has not
arrived yet. A frame whose odometry is missing, late or unusable goes on without it
(``T_odom_cam`` None): counted, the last reason kept, logged throttled and reported in
/diagnostics by the node; never dropped for that reason, never an exception.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, List, Optional, Tuple

import numpy as np
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from tf2_ros import TransformException

from align3r_ros.config import Align3rConfig, OdometrySource
from align3r_ros.errors import Align3rError
from align3r_ros.streams.association import interpolate_poses
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.transforms import pose_to_matrix, transform_to_matrix
from align3r_ros.structures import Frame

#: odometry messages kept (a few seconds at the usual 20-100 Hz).
HISTORY_LENGTH = 500
#: largest spacing of two odometry messages bridged by interpolation, ns.
MAX_GAP_NS = 500_000_000
#: odometry QoS: best effort matches reliable and best-effort publishers alike.
ODOMETRY_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                          reliability=ReliabilityPolicy.BEST_EFFORT,
                          durability=DurabilityPolicy.VOLATILE)


class PoseHistory:
    """A bounded, thread-safe history of stamped poses ``T_parent_child`` of one child frame.

    ``add`` runs in the executor thread, ``at`` in the worker; ``at`` waits (bounded) for a pose
    at or after the stamp so that the stamp is bracketed.
    """

    def __init__(self, length: int = HISTORY_LENGTH) -> None:
        self._items: Deque[Tuple[int, np.ndarray]] = deque(maxlen=int(length))
        self._child = ''
        self._cond = threading.Condition()

    @property
    def child_frame(self) -> str:
        with self._cond:
            return self._child

    def add(self, stamp_ns: int, T_parent_child: np.ndarray, child_frame: str) -> None:
        """Append a pose; a stamp going backwards (a restarted driver, a looped bag) or a new
        child frame starts the history again; a repeated stamp is ignored."""
        with self._cond:
            if self._items and (stamp_ns < self._items[-1][0] or child_frame != self._child):
                self._items.clear()
            if self._items and stamp_ns == self._items[-1][0]:
                return
            self._child = child_frame
            self._items.append((int(stamp_ns), np.asarray(T_parent_child, np.float64)))
            self._cond.notify_all()

    def at(self, stamp_ns: int, timeout_s: float) -> Tuple[Optional[np.ndarray], str]:
        """(T_parent_child at ``stamp_ns``, '') or (None, why)."""
        with self._cond:
            self._cond.wait_for(lambda: self._items and self._items[-1][0] >= stamp_ns,
                                timeout_s)
            if not self._items:
                return None, 'no odometry received yet'
            stamps = np.array([s for s, _ in self._items], np.int64)
            poses = np.stack([T for _, T in self._items])
        if stamp_ns > stamps[-1] + MAX_GAP_NS // 2:
            return None, (f'odometry is late: newest {(stamp_ns - stamps[-1]) / 1e6:.0f} ms '
                          'before the image')
        if stamp_ns < stamps[0] - MAX_GAP_NS // 2:
            return None, 'image older than the odometry history'
        T, found = interpolate_poses([stamp_ns], stamps, poses, MAX_GAP_NS)
        if not found[0]:
            return None, 'odometry gap around the image stamp'
        return T[0], ''


@dataclass(frozen=True)
class OdometryStats:
    """What /diagnostics shows about the odometry input.

    Attributes:
        frames_with: frames that got odometry.
        frames_without: frames that went on without it (missing, late, unusable).
        last_problem: why the last frame without it had none ('' when none so far).
    """

    frames_with: int = 0
    frames_without: int = 0
    last_problem: str = ''


class OdometryInput:
    """Gives frames their odometry (``attach``, worker thread); one per activation.

    Args:
        node: the node (subscriptions, logger).
        config: the node's config (``input.odometry*``, ``frames.*``).
        types: the message classes (``Odometry``).
        tf_buffer: the node's tf2 buffer (with its listener).
    """

    def __init__(self, node: Any, config: Align3rConfig, types: Any, tf_buffer: Any) -> None:
        self._node = node
        self._config = config
        self._tf = tf_buffer
        self._logger = node.get_logger()
        self._history = PoseHistory()
        self._lock = threading.Lock()
        self._stats = OdometryStats()
        self._reported_without = 0
        self._subscription = None
        if config.input.odometry is OdometrySource.TOPIC:
            self._subscription = node.create_subscription(
                types.Odometry, config.input.odometry_topic, self._on_odometry, ODOMETRY_QOS)

    @property
    def stats(self) -> OdometryStats:
        with self._lock:
            return self._stats

    def diagnostics(self) -> Tuple[List[Tuple[str, str]], str]:
        """(key/value pairs for /diagnostics, a warning when frames went on without odometry
        since the previous call, else '')."""
        stats = self.stats
        recent = stats.frames_without - self._reported_without
        self._reported_without = stats.frames_without
        values = [('odometry', self._config.input.odometry.value),
                  ('odometry frames with', str(stats.frames_with)),
                  ('odometry frames without', str(stats.frames_without)),
                  ('odometry last problem', stats.last_problem)]
        warning = f'{recent} frame(s) without odometry: {stats.last_problem}' if recent else ''
        return values, warning

    def destroy(self) -> None:
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None

    def _on_odometry(self, msg: Any) -> None:
        try:
            T = pose_to_matrix(msg.pose.pose)
        except Align3rError as exc:
            with self._lock:
                self._stats = dataclasses.replace(self._stats,
                                                  last_problem=f'odometry message ignored: {exc}')
            self._logger.warning(f'odometry message ignored: {exc}', throttle_duration_sec=5.0)
            return
        self._history.add(header_stamp_ns(msg.header), T, str(msg.child_frame_id).lstrip('/'))

    # -- worker thread ------------------------------------------------------------------------
    def attach(self, frame: Frame) -> Frame:
        """``frame`` with ``T_odom_cam`` at its stamp, or unchanged (counted) without it."""
        camera = (self._config.frames.camera_frame or str(frame.tag or '')).lstrip('/')
        try:
            T, problem = self._lookup(int(frame.stamp_ns), camera) if camera else \
                (None, 'the image has no frame id (set frames.camera_frame)')
        except (Align3rError, TransformException, ValueError) as exc:
            T, problem = None, _one_line(exc)
        if T is None or not np.all(np.isfinite(T)):
            self._missing(problem or 'odometry is not finite')
            return frame
        with self._lock:
            self._stats = dataclasses.replace(self._stats,
                                              frames_with=self._stats.frames_with + 1)
        return dataclasses.replace(frame, T_odom_cam=T)

    def _lookup(self, stamp_ns: int, camera: str) -> Tuple[Optional[np.ndarray], str]:
        cfg = self._config
        timeout = Duration(nanoseconds=int(cfg.input.odometry_timeout * 1e9))
        if cfg.input.odometry is OdometrySource.TF:
            try:
                t = self._tf.lookup_transform(cfg.frames.odom_frame, camera,
                                              Time(nanoseconds=stamp_ns), timeout=timeout)
            except TransformException as exc:
                return None, f'no TF {cfg.frames.odom_frame} -> {camera} at the image stamp ' \
                             f'({_one_line(exc)})'
            return transform_to_matrix(t.transform), ''
        T_odom_child, problem = self._history.at(stamp_ns, cfg.input.odometry_timeout)
        if T_odom_child is None:
            return None, problem
        child = self._history.child_frame
        if not child or child == camera:
            return T_odom_child, ''
        try:
            mount = self._tf.lookup_transform(child, camera, Time(), timeout=timeout)
        except TransformException as exc:
            return None, f'no TF {child} -> {camera} (the camera mounting; {_one_line(exc)})'
        return T_odom_child @ transform_to_matrix(mount.transform), ''

    def _missing(self, problem: str) -> None:
        with self._lock:
            self._stats = OdometryStats(self._stats.frames_with,
                                        self._stats.frames_without + 1, problem)
        self._logger.warning(f'frame without odometry: {problem}', throttle_duration_sec=5.0)


def _one_line(exc: BaseException) -> str:
    return f'{type(exc).__name__}: {exc}'.splitlines()[0][:200]
