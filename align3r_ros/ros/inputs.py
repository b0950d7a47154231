"""Input subscriptions: image (raw or compressed), camera_info, optional prior/depth.

Callbacks only convert messages into a :class:`~align3r_ros.structures.Frame` (the image
``frame_id`` on ``Frame.tag``, CameraInfo's K, distortion model and coefficients on the frame;
the engine rectifies and applies the static ``camera.*`` intrinsics when there is no K) and hand
it to ``submit`` (the worker's bounded queue). Conversion failures (unsupported encoding,
CameraInfo whose size disagrees with the image, ...) are logged throttled, counted and the frame
dropped. Gaps in the image stamps are counted as frames lost before they reached the node.

QoS (``input.reliability``): ``best_available`` (default) matches the publishers of each topic:
reliable when every publisher is reliable, best effort otherwise. The choice is re-made by
:meth:`InputSubscriptions.refresh_qos` (a timer of the node) as publishers come and go, so
it does not depend on whether the camera or the node started first. rmw's own
``BEST_AVAILABLE`` (Jazzy and newer) decides once, at creation: a node started before a
best-effort camera would be reliable and never match it. The same code runs on Humble.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from align3r_ros.config import Align3rConfig, CameraInfoMode, InputConfig, QosReliability
from align3r_ros.errors import Align3rError
from align3r_ros.messages.camera_info import CameraModel, camera_info_to_camera
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.image import (
    compressed_msg_to_rgb,
    depth_msg_to_metres,
    image_msg_to_rgb,
)
from align3r_ros.messages.types import MessageTypes
from align3r_ros.ros.arrivals import ArrivalGaps
from align3r_ros.ros.pairing import StampPairing
from align3r_ros.ros.topics import (
    CAMERA_INFO_TOPIC,
    COMPRESSED_TOPIC,
    IMAGE_TOPIC,
    PRIOR_TOPIC,
    input_topics,
)
from align3r_ros.ros.pipeline_state import PipelineCounters
from align3r_ros.structures import Frame

#: image <-> camera_info / prior stamps closer than this are the same capture.
PAIRING_SLOP_NS = 20_000_000


def matching_reliability(publishers: Sequence[ReliabilityPolicy]) -> ReliabilityPolicy:
    """Reliable when there are publishers and every one is reliable, else best effort (which
    every publisher matches)."""
    if publishers and all(p == ReliabilityPolicy.RELIABLE for p in publishers):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


def input_qos(config: InputConfig, reliability: ReliabilityPolicy) -> QoSProfile:
    """Keep last ``input.qos_depth``, volatile, with the given reliability."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.qos_depth,
                      reliability=reliability, durability=DurabilityPolicy.VOLATILE)


class InputSubscriptions:
    """Creates the input subscriptions on ``node`` and turns messages into queued frames."""

    def __init__(self, node: Any, config: Align3rConfig, types: MessageTypes,
                 submit: Callable[[Frame], None], counters: PipelineCounters) -> None:
        self._node = node
        self._config = config
        self._submit = submit
        self._counters = counters
        self._logger = node.get_logger()
        self._latest_camera: Optional[CameraModel] = None
        self._camera_sync = StampPairing(PAIRING_SLOP_NS)
        self._prior_sync = StampPairing(PAIRING_SLOP_NS)
        self._arrivals = ArrivalGaps()
        self._warned_no_camera_info = False
        callbacks = {IMAGE_TOPIC: (types.Image, self._on_image),
                     COMPRESSED_TOPIC: (types.CompressedImage, self._on_compressed),
                     CAMERA_INFO_TOPIC: (types.CameraInfo, self._on_camera_info),
                     PRIOR_TOPIC: (types.Image, self._on_prior)}
        #: topic -> (message type, callback, subscription, its reliability)
        self._subs: Dict[str, List[Any]] = {}
        for topic in input_topics(config.input):
            msg_type, callback = callbacks[topic]
            self._subs[topic] = [msg_type, callback, None, None]
            self._subscribe(topic, self._wanted_reliability(topic))

    @property
    def subscriptions(self) -> List[Any]:
        return [entry[2] for entry in self._subs.values()]

    def reliability(self, topic: str) -> Optional[ReliabilityPolicy]:
        """The reliability the subscription of ``topic`` uses now (None: not subscribed)."""
        entry = self._subs.get(topic)
        return None if entry is None else entry[3]

    def _wanted_reliability(self, topic: str) -> ReliabilityPolicy:
        mode = self._config.input.reliability
        if mode is QosReliability.RELIABLE:
            return ReliabilityPolicy.RELIABLE
        if mode is QosReliability.BEST_EFFORT:
            return ReliabilityPolicy.BEST_EFFORT
        infos = self._node.get_publishers_info_by_topic(self._node.resolve_topic_name(topic))
        return matching_reliability([info.qos_profile.reliability for info in infos])

    def _subscribe(self, topic: str, reliability: ReliabilityPolicy) -> None:
        entry = self._subs[topic]
        if entry[2] is not None:
            self._node.destroy_subscription(entry[2])
        entry[2] = self._node.create_subscription(
            entry[0], topic, entry[1], input_qos(self._config.input, reliability))
        entry[3] = reliability

    def refresh_qos(self) -> None:
        """Re-subscribe where the publishers now want another reliability (best_available)."""
        if self._config.input.reliability is not QosReliability.BEST_AVAILABLE:
            return
        for topic, entry in self._subs.items():
            wanted = self._wanted_reliability(topic)
            if wanted != entry[3]:
                self._logger.info(f'{self._node.resolve_topic_name(topic)}: subscribing '
                                  f'{wanted.name.lower()} to match its publishers')
                self._subscribe(topic, wanted)

    def destroy(self) -> None:
        for entry in self._subs.values():
            if entry[2] is not None:
                self._node.destroy_subscription(entry[2])
            entry[2] = None
        self._subs = {}
        self._camera_sync.clear()
        self._prior_sync.clear()

    def _reject(self, what: str, exc: Exception) -> None:
        self._counters.record_rejection(f'{what}: {exc}')
        self._logger.warning(f'dropped {what}: {exc}', throttle_duration_sec=5.0)

    # -- callbacks (executor thread) ----------------------------------------------------------
    def _arrived(self, header: Any) -> None:
        lost = self._arrivals.add(header_stamp_ns(header))
        with self._counters.lock:
            self._counters.received += 1
            self._counters.lost += lost

    def _on_image(self, msg: Any) -> None:
        self._arrived(msg.header)
        try:
            rgb = image_msg_to_rgb(msg)
        except Align3rError as exc:
            self._reject('image', exc)
            return
        self._on_rgb(msg.header, rgb)

    def _on_compressed(self, msg: Any) -> None:
        self._arrived(msg.header)
        try:
            rgb = compressed_msg_to_rgb(msg)
        except Align3rError as exc:
            self._reject('compressed image', exc)
            return
        self._on_rgb(msg.header, rgb)

    def _on_camera_info(self, msg: Any) -> None:
        try:
            camera = camera_info_to_camera(msg)
        except Align3rError as exc:
            self._reject('camera_info', exc)
            return
        if self._config.input.camera_info is CameraInfoMode.SYNC:
            for (stamp_ns, frame_id, rgb), matched in self._camera_sync.add_secondary(
                    header_stamp_ns(msg.header), camera):
                self._with_camera(stamp_ns, frame_id, rgb, matched)
        else:
            self._latest_camera = camera

    def _on_prior(self, msg: Any) -> None:
        try:
            prior = depth_msg_to_metres(msg)
        except Align3rError as exc:
            self._reject('prior/depth', exc)
            return
        for frame, prior_map in self._prior_sync.add_secondary(header_stamp_ns(msg.header),
                                                               prior):
            self._enqueue_with_prior(frame, prior_map)

    # -- assembling frames --------------------------------------------------------------------
    def _on_rgb(self, header: Any, rgb: np.ndarray) -> None:
        stamp_ns, frame_id = header_stamp_ns(header), str(header.frame_id)
        mode = self._config.input.camera_info
        if mode is CameraInfoMode.SYNC:
            for (s, f, image), camera in self._camera_sync.add_primary(
                    stamp_ns, (stamp_ns, frame_id, rgb)):
                self._with_camera(s, f, image, camera)
        elif mode is CameraInfoMode.LATEST and self._latest_camera is not None:
            self._with_camera(stamp_ns, frame_id, rgb, self._latest_camera)
        else:
            if mode is CameraInfoMode.LATEST and not self._warned_no_camera_info:
                self._warned_no_camera_info = True
                self._logger.warning('no camera_info received yet: using static intrinsics '
                                     '(camera.*) or estimating the focal length')
            self._assemble(Frame(stamp_ns=stamp_ns, rgb=rgb, tag=frame_id))

    def _with_camera(self, stamp_ns: int, frame_id: str, rgb: np.ndarray,
                     camera: CameraModel) -> None:
        try:
            camera.check_image_size(rgb.shape[0], rgb.shape[1])
        except Align3rError as exc:
            self._reject('image', exc)
            return
        self._assemble(Frame(stamp_ns=stamp_ns, rgb=rgb, K=camera.K,
                             distortion_model=camera.distortion_model, D=camera.D,
                             tag=frame_id))

    def _assemble(self, frame: Frame) -> None:
        if not self._config.input.use_prior_topic:
            self._submit(frame)
            return
        for pending, prior in self._prior_sync.add_primary(frame.stamp_ns, frame):
            self._enqueue_with_prior(pending, prior)

    def _enqueue_with_prior(self, frame: Frame, prior: np.ndarray) -> None:
        self._submit(Frame(stamp_ns=frame.stamp_ns, rgb=frame.rgb, K=frame.K, prior=prior,
                           distortion_model=frame.distortion_model, D=frame.D, tag=frame.tag))
