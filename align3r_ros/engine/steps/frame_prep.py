"""Frame -> network view: rectification, resize/crop, known intrinsics, the prior and its
point map.

Which prior a frame gets, in order: the frame's own ``Frame.prior`` (metres, or
``prior.kind`` units when ``prior.backend`` is external); else the configured prior backend;
else, for the oracle backend only with ``scale.metric: on``, the frame's ground-truth depth (it
then plays an RGB-D camera, which makes metric scale testable without a depth topic). Any other
pairwise backend never sees ground truth: ``Frame.gt_depth`` is for evaluation. The prior serves
two consumers: the pairwise network's point-map input (Align3R) and the metric-scale estimate
(metric priors only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from align3r_ros.backends.base import NetworkView, PriorBackend, ViewTruth
from align3r_ros.backends.prior_external import external_depth_to_prior
from align3r_ros.backends.prior_frame import MIN_SIDE
from align3r_ros.config import (Align3rConfig, IntrinsicsMode, MetricScaleMode,
                                PairwiseBackendKind, PriorBackendKind, PriorKind)
from align3r_ros.errors import InputError
from align3r_ros.geometry.camera import default_principal_point, intrinsics_matrix
from align3r_ros.networks.preprocess import (ViewTransform, network_rgb, normalise_network_rgb,
                                             plan_transform, prior_to_pointmap)
from align3r_ros.engine.steps.rectify import FrameRectifier
from align3r_ros.engine.steps.odometry import checked_odometry
from align3r_ros.structures import Frame, PriorMap


@dataclass(frozen=True)
class PreparedFrame:
    """One frame at network resolution (h, w), with what the engine needs to emit its result.

    Attributes:
        stamp_ns: the frame's stamp.
        view: what the pairwise backend consumes.
        transform: input (H, W) <-> network (h, w) geometry.
        K_known: (3, 3) intrinsics at (h, w) when ``camera.intrinsics`` is known, else None.
        metric_prior: (h, w) float32 metres from a metric prior, NaN where invalid; None when
            the frame has no metric prior.
        rgb: (h, w, 3) uint8 colours at network resolution.
        input_rgb: (H, W, 3) uint8 input colours (kept for input-resolution output only).
        tag: the caller's ``Frame.tag`` (returned on the result, never read).
        T_odom_cam: (4, 4) float64 the frame's odometry (``Frame.T_odom_cam``) when usable
            (finite, a rotation), else None.
    """

    stamp_ns: int
    view: NetworkView
    transform: ViewTransform
    K_known: Optional[np.ndarray]
    metric_prior: Optional[np.ndarray]
    rgb: np.ndarray
    input_rgb: Optional[np.ndarray]
    tag: Any = None
    T_odom_cam: Optional[np.ndarray] = None

    @property
    def network_hw(self) -> Tuple[int, int]:
        return tuple(self.transform.network_hw)


class FramePreparer:
    """Turns frames into :class:`PreparedFrame` for one config (plans cached per input size).

    Args:
        config: the engine config.
        needs_pointmap: the pairwise backend consumes a prior point map (Align3R).
        prior_backend: the monocular prior, or None.
        keep_input_rgb: keep the input image (``output.resolution: input``).
    """

    def __init__(self, config: Align3rConfig, needs_pointmap: bool,
                 prior_backend: Optional[PriorBackend], keep_input_rgb: bool) -> None:
        self.config = config
        self.needs_pointmap = needs_pointmap
        self.prior_backend = prior_backend
        self.keep_input_rgb = keep_input_rgb
        self._plans: Dict[Tuple[int, int], ViewTransform] = {}
        self._rectifier = FrameRectifier()

    def plan(self, input_hw: Tuple[int, int]) -> ViewTransform:
        if input_hw not in self._plans:
            if len(self._plans) > 8:  # bounded: a stream of ever-changing sizes never grows it
                self._plans.clear()
            self._plans[input_hw] = plan_transform(input_hw, self.config.preprocess.long_side,
                                                   self.config.preprocess.mode)
        return self._plans[input_hw]

    def input_intrinsics(self, frame: Frame) -> Optional[np.ndarray]:
        """(3, 3) K at the frame's (H, W): the frame's own, else the static ``camera.*`` values
        (an unset principal point is the package's default, (W/2, H/2))."""
        if frame.K is not None:
            return np.asarray(frame.K, dtype=np.float64)
        cam = self.config.camera
        if cam.fx > 0 and cam.fy > 0:
            default_cx, default_cy = default_principal_point(*frame.shape)
            return intrinsics_matrix(cam.fx, cam.fy, cam.cx if cam.cx > 0 else default_cx,
                                     cam.cy if cam.cy > 0 else default_cy)
        return None

    def prepare(self, frame: Frame, key: int) -> PreparedFrame:
        """Network view and side data of one frame (rectified first when it is distorted,
        see :mod:`align3r_ros.engine.steps.rectify`).

        Raises:
            InputError: a bad image, a distortion model that cannot be undone, known
                intrinsics requested but none available, a prior the network needs but that
                cannot be had.
        """
        rgb = frame.rgb
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 \
                or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
            raise InputError(f'frame {frame.stamp_ns}: rgb must be (H, W, 3) uint8, got '
                             f'{getattr(rgb, "shape", type(rgb).__name__)} '
                             f'{getattr(rgb, "dtype", "")}')
        if min(rgb.shape[:2]) < MIN_SIDE:
            raise InputError(f'frame {frame.stamp_ns}: image of {rgb.shape[1]}x{rgb.shape[0]} '
                             f'px (WxH) is too small; sides must be at least {MIN_SIDE} px')
        frame = self._rectifier.rectify(frame)
        transform = self.plan(frame.shape)
        K_input = self.input_intrinsics(frame)
        K_net = transform.K_to_network(K_input) if K_input is not None else None
        known = self.config.camera.intrinsics == IntrinsicsMode.KNOWN
        if known and K_net is None:
            raise InputError(f'frame {frame.stamp_ns}: camera.intrinsics is known but the '
                             'frame has no K and camera.fx/fy are unset')
        prior = self._prior(frame, K_input)
        pointmap = None
        if self.needs_pointmap:
            if prior is None:
                raise InputError(f'frame {frame.stamp_ns}: the pairwise network needs a prior '
                                 'but none is configured or supplied')
            pointmap = prior_to_pointmap(prior.values, transform, prior.focal_px or 200.0)
        metric_prior = None
        if prior is not None and prior.kind == PriorKind.METRIC_DEPTH:
            values = np.where(prior.valid, prior.values, np.nan) if prior.valid is not None \
                else prior.values
            metric_prior = transform.map_to_network(values.astype(np.float32), nearest=True)
        colours = network_rgb(frame.rgb, transform)  # resampled once: colours and network input
        view = NetworkView(key=key, image=normalise_network_rgb(colours), pointmap=pointmap,
                           K=K_net, truth=self._truth(frame, transform))
        return PreparedFrame(stamp_ns=int(frame.stamp_ns), view=view, transform=transform,
                             K_known=K_net if known else None, metric_prior=metric_prior,
                             rgb=colours,
                             input_rgb=frame.rgb if self.keep_input_rgb else None,
                             tag=frame.tag, T_odom_cam=checked_odometry(frame.T_odom_cam))

    def _prior(self, frame: Frame, K_input: Optional[np.ndarray]) -> Optional[PriorMap]:
        prior_cfg = self.config.prior
        if frame.prior is not None:
            kind = prior_cfg.kind if prior_cfg.backend == PriorBackendKind.EXTERNAL \
                else PriorKind.METRIC_DEPTH
            return external_depth_to_prior(frame.prior, frame.shape, kind)
        if self.prior_backend is not None and prior_cfg.backend != PriorBackendKind.EXTERNAL:
            return self.prior_backend.estimate(frame.rgb, K_input)
        if self.config.pairwise.backend == PairwiseBackendKind.ORACLE and \
                self.config.scale.metric == MetricScaleMode.ON and frame.gt_depth is not None:
            return external_depth_to_prior(np.asarray(frame.gt_depth, np.float32), frame.shape,
                                           PriorKind.METRIC_DEPTH)
        return None

    @staticmethod
    def _truth(frame: Frame, transform: ViewTransform) -> Optional[ViewTruth]:
        """The frame's ground truth at network resolution (for the oracle backend); None when
        the frame carries none (a live camera)."""
        if frame.gt_depth is None and frame.gt_T_world_cam is None \
                and frame.gt_dynamic_mask is None:
            return None
        depth = None
        if frame.gt_depth is not None:
            depth = np.asarray(frame.gt_depth, dtype=np.float32)
            depth = transform.map_to_network(np.where(depth > 0, depth, np.nan).astype(
                np.float32), nearest=True)
        mask = None if frame.gt_dynamic_mask is None else transform.map_to_network(
            np.asarray(frame.gt_dynamic_mask, dtype=bool), nearest=True)
        return ViewTruth(depth=depth, T_world_cam=frame.gt_T_world_cam, dynamic_mask=mask)
