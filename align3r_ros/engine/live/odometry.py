"""Live mode's use of the robot's odometry (``PreparedFrame.T_odom_cam``), beside the map.

* World frame: a new world (the stream's first frame, or after a reset) starts at the frame's
  odometry: rotation ``R_odom_cam`` inside, and outputs offset by the frame's odometry position
  once metric, so results and the robot's TF agree from the first frame (``rep105``'s
  ``world -> odom`` stays near identity until drift appears).
* Scale: every frame with odometry enters :class:`~align3r_ros.engine.steps.odometry_scale.
  OdometryScale` at its final pose (refined keyframe poses move their points); once it holds
  it takes precedence over a metric prior (``scale_source`` 'odometry'). A disagreeing frame
  stays out of the fit and starts a new segment of it (the odometry's placement of the path
  changes at a slip; the scale is shared). A slip before the scale holds cannot be told from
  motion; its frames enter the fit, whose robust weights discount them as far as the frames
  around them outnumber them.
* Drift: a tracked frame's pose gets the odometry motion from the frame
  :data:`MOTION_SPAN` frames before it as a weighted prior (a short span: odometry noise and
  drift accumulate with the frames in between, a slip over it still shows), the refined window
  the motions between consecutive keyframes (:func:`~align3r_ros.engine.steps.odometry.
  fuse_motion`, ``fuse_window``); a disagreement is counted and named in the frame's status.
  ``input.odometry_weight`` 0 keeps the scale only.

Frames without odometry are tracked as before; with no odometry at all nothing here acts.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Deque, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch

from align3r_ros.config import Align3rConfig
from align3r_ros.engine.live.keyframes import LiveKeyframe
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.engine.steps.odometry import fuse_motion, fuse_window
from align3r_ros.engine.steps.odometry_scale import OdometryScale
from align3r_ros.structures import KeyframePose

#: frames back to the reference of the motion prior and its disagreement test.
MOTION_SPAN = 5
#: consecutive keyframes further apart (frames) get no window prior: odometry drifts between.
KEYFRAME_SPAN = 15


class LiveOdometry:
    """The odometry state of one live stream (module docstring).

    Attributes:
        scale: the odometry scale of the current map.
        disagreements: frames (and keyframe motions of a refined window) whose odometry
            disagreed with vision, since construction.
    """

    def __init__(self, config: Align3rConfig) -> None:
        self.config = config
        self.scale = OdometryScale(config.scale.odometry_min_baseline,
                                   config.scale.odometry_window)
        self.disagreements = 0
        #: (3,) odometry position of the world's first frame (metres), None: no odometry there
        self._origin: Optional[np.ndarray] = None
        self._started = False
        #: (stamp, T_world_cam units, T_odom_cam metres) of the last tracked frames
        self._recent: Deque[Tuple[int, np.ndarray, np.ndarray]] = deque(maxlen=MOTION_SPAN)
        #: frames seen, and the frame number of each keyframe of the window (by stamp)
        self._frames = 0
        self._keyframe_number: Dict[int, int] = {}
        #: the stamp of the last frame whose odometry disagreed (kept out of the scale fit)
        self._disagreed_stamp: Optional[int] = None

    @property
    def metres_per_unit(self) -> Optional[float]:
        """The odometry scale once it holds, else None."""
        return self.scale.scale

    def new_world(self) -> None:
        """A reset: forget the scale and the world's anchoring."""
        self.scale.reset()
        self._origin = None
        self._started = False
        self._recent.clear()

    def new_map(self) -> None:
        """A lost map: its frames leave the scale fit (the scale, at continuous units, stays)."""
        self.scale.forget_frames()
        self._recent.clear()

    def start_pose(self, prepared: PreparedFrame, last_T_world_cam: np.ndarray) -> np.ndarray:
        """The pose a new map starts at: at the world's first map, the odometry's orientation
        (its position becomes the output origin); else ``last_T_world_cam``."""
        first_of_world, self._started = not self._started, True
        if first_of_world and prepared.T_odom_cam is not None:
            self._origin = prepared.T_odom_cam[:3, 3].copy()
            T = np.eye(4)
            T[:3, :3] = prepared.T_odom_cam[:3, :3]
            return T
        return np.asarray(last_T_world_cam, np.float64)

    def keyframe_added(self, keyframe: LiveKeyframe) -> None:
        """A keyframe (its final pose) enters the scale and the recent frames."""
        T = keyframe.T_world_cam.double().cpu().numpy()
        self._remember(keyframe.prepared, T)
        self._keyframe_number[int(keyframe.prepared.stamp_ns)] = self._frames
        if int(keyframe.prepared.stamp_ns) != self._disagreed_stamp:
            self.scale.add(keyframe.prepared.stamp_ns, T, keyframe.prepared.T_odom_cam)

    def prior(self, prepared: PreparedFrame,
              T_world_cam: torch.Tensor) -> Tuple[torch.Tensor, str]:
        """The tracked pose with the odometry motion from :data:`MOTION_SPAN` frames back as a
        prior, and a status note ('' unless odometry disagreed). The frame enters the scale
        fit at that pose."""
        s = self.scale.scale
        T_vision = T_world_cam.double().cpu().numpy()
        if s is None or prepared.T_odom_cam is None or not self._recent or \
                self.config.input.odometry_weight <= 0:
            self._remember(prepared, T_vision)
            self.scale.add(prepared.stamp_ns, T_vision, prepared.T_odom_cam)
            return T_world_cam, ''
        _, T_world_ref, T_odom_ref = self._recent[0]
        fused, check = fuse_motion(T_world_ref, T_vision, T_odom_ref, prepared.T_odom_cam, s,
                                   self.config)
        if check.disagrees:  # a slip: the odometry's placement of the path changes
            self.disagreements += 1
            self._disagreed_stamp = int(prepared.stamp_ns)  # out of the fit as a keyframe too
            self.scale.break_segment()
        else:
            self.scale.add(prepared.stamp_ns, fused, prepared.T_odom_cam)
        self._remember(prepared, fused)
        return torch.as_tensor(fused, dtype=T_world_cam.dtype,
                               device=T_world_cam.device), check.note()

    def _remember(self, prepared: PreparedFrame, T_world_cam: np.ndarray) -> None:
        """The frame's latest pose among the recent frames (odometry-less frames break it)."""
        if not self._recent or self._recent[-1][0] != prepared.stamp_ns:
            self._frames += 1
        if prepared.T_odom_cam is None:
            self._recent.clear()
            return
        if self._recent and self._recent[-1][0] == prepared.stamp_ns:
            self._recent.pop()
        self._recent.append((int(prepared.stamp_ns), np.array(T_world_cam, np.float64),
                             prepared.T_odom_cam))

    def refined(self, keyframes: Iterable[LiveKeyframe]) -> Tuple[dict, str]:
        """The refined window with the odometry prior: key -> keyframe to swap in (those that
        moved), and a note when keyframes disagreed. Moves the keyframes' points of the scale
        fit."""
        window = list(keyframes)
        s = self.scale.scale
        T_now = [kf.T_world_cam.double().cpu().numpy() for kf in window]
        replaced, note = {}, ''
        if s is not None and self.config.input.odometry_weight > 0:
            numbers = [self._keyframe_number.get(int(kf.prepared.stamp_ns)) for kf in window]
            numbers[-1] = self._frames  # the newest keyframe: the frame being pushed
            linked = [k > 0 and None not in (numbers[k], numbers[k - 1]) and
                      numbers[k] - numbers[k - 1] <= KEYFRAME_SPAN for k in range(len(window))]
            T_new, disagreements = fuse_window(T_now, [kf.prepared.T_odom_cam for kf in window],
                                               s, self.config, linked)
            self.disagreements += disagreements
            if disagreements:
                self.scale.break_segment()
                note = f'odometry disagrees with vision on {disagreements} keyframe(s) of ' \
                       'the window: down-weighted'
            for kf, T_old, T in zip(window, T_now, T_new):
                if not np.array_equal(T_old, T):
                    replaced[kf.key] = dataclasses.replace(kf, T_world_cam=torch.as_tensor(
                        T, dtype=kf.T_world_cam.dtype, device=kf.T_world_cam.device))
            T_now = list(T_new)
        for kf, T in zip(window, T_now):
            self.scale.move(kf.prepared.stamp_ns, T)
        held = {int(kf.prepared.stamp_ns) for kf in window}
        self._keyframe_number = {s: n for s, n in self._keyframe_number.items() if s in held}
        return replaced, note

    def to_output(self, T_world_cam: np.ndarray, metres_per_unit: Optional[float]
                  ) -> np.ndarray:
        """The internal pose (alignment units) placed so that, after the output's scaling by
        ``metres_per_unit``, the world's origin is its first frame's odometry position."""
        if self._origin is None or metres_per_unit is None:
            return T_world_cam
        T = np.array(T_world_cam, dtype=np.float64, copy=True)
        T[:3, 3] += self._origin / metres_per_unit
        return T

    def keyframe_poses(self, keyframes: Iterable[LiveKeyframe],
                       metres_per_unit: float) -> List[KeyframePose]:
        """Metric keyframe poses in the output world (``Engine.keyframe_poses``)."""
        out = []
        for kf in keyframes:
            T = np.array(self.to_output(kf.T_world_cam.double().cpu().numpy(),
                                        metres_per_unit), dtype=np.float64, copy=True)
            T[:3, 3] *= metres_per_unit
            out.append(KeyframePose(stamp_ns=int(kf.prepared.stamp_ns), T_world_cam=T,
                                    is_metric=True))
        return out
