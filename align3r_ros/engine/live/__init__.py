"""Live streaming mode: per-frame tracking against keyframes, content-based keyframes and a
bounded local refinement of the keyframe window (see :mod:`align3r_ros.engine.live.aligner`)."""

from align3r_ros.engine.live.aligner import LiveAligner, LiveState
from align3r_ros.structures import KeyframePose

__all__ = ['KeyframePose', 'LiveAligner', 'LiveState']
