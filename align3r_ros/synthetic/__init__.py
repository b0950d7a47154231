"""Synthetic dynamic scenes with ground truth, for tests and benchmarks.

A textured room with static boxes and spheres, spheres moving through it, and a camera on a
smooth path; frames are ray-cast (vectorised numpy, no rendering library) into RGB, depth,
poses, intrinsics and dynamic masks. Entry point: :func:`make_sequence`.
"""

from __future__ import annotations

from align3r_ros.synthetic.sequence import SyntheticSequence, iter_frames, make_sequence

__all__ = ['SyntheticSequence', 'iter_frames', 'make_sequence']
