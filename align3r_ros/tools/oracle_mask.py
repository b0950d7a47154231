"""The oracle's rendered mover mask, handed to the engine by stamp (a bag cannot carry it).

The oracle backend acts out a mover (``oracle.dynamic_corruption``) only on the pixels of
``Frame.gt_dynamic_mask``; frames read back from a bag have none. ``align3r-demo`` and the
mapping measurement (:mod:`align3r_ros.tools.map_measure`) wrap the replay's engine in
:class:`OracleMaskEngine` with the masks they rendered.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List

import numpy as np

from align3r_ros.structures import EngineStats, Frame, FrameEngine, FrameResult, KeyframePose


class OracleMaskEngine:
    """A :class:`~align3r_ros.structures.FrameEngine` that gives every frame its rendered
    dynamic mask (by stamp) before the real engine sees it: what the oracle needs to act out
    a mover (``oracle.dynamic_corruption``), and what an input bag cannot hold.

    Args:
        engine: the engine to drive.
        masks: stamp (ns) -> (H, W) bool rendered dynamic mask.
    """

    def __init__(self, engine: FrameEngine, masks: Dict[int, np.ndarray]) -> None:
        self._engine = engine
        self._masks = masks

    def push(self, frame: Frame) -> List[FrameResult]:
        mask = self._masks.get(int(frame.stamp_ns))
        return self._engine.push(frame if mask is None else
                                 dataclasses.replace(frame, gt_dynamic_mask=mask))

    def flush(self) -> List[FrameResult]:
        return self._engine.flush()

    def keyframe_poses(self) -> List[KeyframePose]:
        return self._engine.keyframe_poses()

    @property
    def stats(self) -> EngineStats:
        return self._engine.stats

    @property
    def held_frames(self) -> int:
        return self._engine.held_frames
