"""Depth Anything V2 (DINOv2 + DPT): relative-disparity monocular prior, weight-compatible.

Entry points: :func:`build.build_depth_anything_v2` (configs in :mod:`.config`),
:func:`checkpoint.load_depth_anything_v2`, :func:`checkpoint.detect_variant`,
:func:`model.infer_disparity`.
"""

from __future__ import annotations
