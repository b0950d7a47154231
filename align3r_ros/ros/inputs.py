"""Input subscriptions: image (raw or compressed), camera_info, optional prior/depth.

Callbacks only convert messages into a :class:`~align3r_ros.structures.Frame` and hand it to
``submit`` (the worker's bounded queue). Conversion failures (unsupported encoding, CameraInfo
whose size disagrees with the image, ...) are logged throttled, counted and the frame dropped.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

import numpy as np
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from align3r_ros.config import (
    Align3rConfig,
    CameraInfoMode,
    ImageTransport,
    InputConfig,
    QosReliability,
)
from align3r_ros.errors import Align3rError
from align3r_ros.messages.camera_info import CameraModel, camera_info_to_camera
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.image import (
    compressed_msg_to_rgb,
    depth_msg_to_metres,
    image_msg_to_rgb,
)
from align3r_ros.messages.types import MessageTypes
from align3r_ros.ros.pairing import StampPairing
from align3r_ros.ros.worker import PipelineCounters, QueuedFrame
from align3r_ros.structures import Frame

#: image <-> camera_info / prior stamps closer than this are the same capture.
PAIRING_SLOP_NS = 20_000_000


def input_qos(config: InputConfig) -> QoSProfile:
    """Sensor-data QoS by default (best effort, keep last 5, volatile): it receives from both
    best-effort and reliable publishers."""
    reliability = (ReliabilityPolicy.BEST_EFFORT
                   if config.reliability is QosReliability.BEST_EFFORT
                   else ReliabilityPolicy.RELIABLE)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.qos_depth,
                      reliability=reliability, durability=DurabilityPolicy.VOLATILE)


def static_intrinsics(config: Align3rConfig, height: int, width: int) -> Optional[np.ndarray]:
    """K from the camera.* parameters when fx and fy are set (cx, cy default to the centre)."""
    camera = config.camera
    if camera.fx <= 0 or camera.fy <= 0:
        return None
    cx = camera.cx if camera.cx > 0 else (width - 1) / 2.0
    cy = camera.cy if camera.cy > 0 else (height - 1) / 2.0
    return np.array([[camera.fx, 0.0, cx], [0.0, camera.fy, cy], [0.0, 0.0, 1.0]])


class InputSubscriptions:
    """Creates the input subscriptions on ``node`` and turns messages into queued frames."""

    def __init__(self, node: Any, config: Align3rConfig, types: MessageTypes,
                 submit: Callable[[QueuedFrame], None], counters: PipelineCounters) -> None:
        self._node = node
        self._config = config
        self._submit = submit
        self._counters = counters
        self._logger = node.get_logger()
        self._latest_camera: Optional[CameraModel] = None
        self._camera_sync = StampPairing(PAIRING_SLOP_NS)
        self._prior_sync = StampPairing(PAIRING_SLOP_NS)
        self._warned_no_camera_info = False
        qos = input_qos(config.input)
        self.subscriptions: List[Any] = []
        if config.input.transport is ImageTransport.COMPRESSED:
            self.subscriptions.append(node.create_subscription(
                types.CompressedImage, 'image/compressed', self._on_compressed, qos))
        else:
            self.subscriptions.append(node.create_subscription(
                types.Image, 'image', self._on_image, qos))
        if config.input.camera_info is not CameraInfoMode.NONE:
            self.subscriptions.append(node.create_subscription(
                types.CameraInfo, 'camera_info', self._on_camera_info, qos))
        if config.input.use_prior_topic:
            self.subscriptions.append(node.create_subscription(
                types.Image, 'prior/depth', self._on_prior, qos))

    def destroy(self) -> None:
        for subscription in self.subscriptions:
            self._node.destroy_subscription(subscription)
        self.subscriptions = []
        self._camera_sync.clear()
        self._prior_sync.clear()

    def _reject(self, what: str, exc: Exception) -> None:
        with self._counters.lock:
            self._counters.rejected += 1
            self._counters.last_error = f'{what}: {exc}'
        self._logger.warning(f'dropped {what}: {exc}', throttle_duration_sec=5.0)

    # -- callbacks (executor thread) ----------------------------------------------------------
    def _on_image(self, msg: Any) -> None:
        try:
            rgb = image_msg_to_rgb(msg)
        except Align3rError as exc:
            self._reject('image', exc)
            return
        self._on_rgb(msg.header, rgb)

    def _on_compressed(self, msg: Any) -> None:
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
        with self._counters.lock:
            self._counters.received += 1
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
                                     'or estimating the focal length')
            K = static_intrinsics(self._config, rgb.shape[0], rgb.shape[1])
            self._assemble(QueuedFrame(Frame(stamp_ns=stamp_ns, rgb=rgb, K=K), frame_id))

    def _with_camera(self, stamp_ns: int, frame_id: str, rgb: np.ndarray,
                     camera: CameraModel) -> None:
        try:
            camera.check_image_size(rgb.shape[0], rgb.shape[1])
        except Align3rError as exc:
            self._reject('image', exc)
            return
        self._assemble(QueuedFrame(Frame(stamp_ns=stamp_ns, rgb=rgb, K=camera.K), frame_id))

    def _assemble(self, queued: QueuedFrame) -> None:
        if not self._config.input.use_prior_topic:
            self._submit(queued)
            return
        for frame, prior in self._prior_sync.add_primary(queued.frame.stamp_ns, queued):
            self._enqueue_with_prior(frame, prior)

    def _enqueue_with_prior(self, queued: QueuedFrame, prior: np.ndarray) -> None:
        frame = queued.frame
        self._submit(QueuedFrame(Frame(stamp_ns=frame.stamp_ns, rgb=frame.rgb, K=frame.K,
                                       prior=prior), queued.frame_id))
