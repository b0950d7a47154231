"""The interface the engine drives over prepared frames (clip mode, live mode).

:class:`~align3r_ros.engine.engine.Engine` owns the frame policy (stamps, sizes, preparation,
rectification); a :class:`StreamAligner` only sees frames that passed it, in stamp order and of
one size until ``reset``. Implementations: ``clip.aligner.ClipAligner`` (clip mode)
and ``live.LiveAligner`` (live mode); ``stream.mode`` chooses (``engine``).
"""

from __future__ import annotations

from typing import List, Protocol

from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.structures import FrameResult, KeyframePose, StageTimings


class StreamAligner(Protocol):
    """Prepared frames in, per-frame results out; bounded state.

    Each result carries its frame's ``tag`` and ``stamp_ns``; every pushed frame comes back
    exactly once (from ``push``, ``flush`` or ``reset``), in push order.
    """

    def push(self, prepared: PreparedFrame) -> List[FrameResult]:
        """Add one prepared frame; returns the results that became ready (possibly [])."""
        ...

    def flush(self) -> List[FrameResult]:
        """Emit every frame still waiting for results (end of stream); the world is kept."""
        ...

    def reset(self, status: str) -> List[FrameResult]:
        """Emit the held frames (as ``flush``), then forget the world; ``status`` is noted on
        the next results."""
        ...

    def keyframe_poses(self) -> List[KeyframePose]:
        """The current world's keyframes with their latest refined poses, oldest first ([]
        where the mode refines nothing after publishing, e.g. clip mode)."""
        ...

    @property
    def held_frames(self) -> int:
        """Frames held now (waiting frames + keyframes); bounded by the config."""
        ...

    @property
    def odometry_disagreements(self) -> int:
        """Frames whose odometry disagreed with vision (``EngineStats``; 0 in clip mode)."""
        ...

    @property
    def timings(self) -> StageTimings:
        """Times of the last alignment work (``prepare_ms`` is 0: the engine measures it)."""
        ...

    @property
    def keyframes_added(self) -> int:
        """Keyframes added since the aligner was built (``EngineStats.keyframes_added``)."""
        ...

    @property
    def tracking_losses(self) -> int:
        """Frames whose tracking was lost since the aligner was built (0 in clip mode)."""
        ...
