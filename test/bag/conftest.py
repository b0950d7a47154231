"""Small real frames (7-Scenes, downsampled 4x to 160x120) and helpers that write bags."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest

from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
from align3r_ros.structures import Frame


def downsample(frame: Frame, factor: int = 4) -> Frame:
    """Every factor-th pixel (depth stays exact: no interpolation), K scaled to match."""
    K = None
    if frame.K is not None:
        K = frame.K.copy()
        K[:2] /= factor  # pixel i of the subsampled image is pixel factor * i
    return Frame(stamp_ns=frame.stamp_ns, rgb=np.ascontiguousarray(frame.rgb[::factor, ::factor]),
                 K=K,
                 gt_depth=None if frame.gt_depth is None else
                 np.ascontiguousarray(frame.gt_depth[::factor, ::factor]),
                 gt_T_world_cam=frame.gt_T_world_cam)


@pytest.fixture(scope='session')
def kitchen_frames(shared) -> List[Frame]:
    """Six real 7-Scenes frames at 160x120 with GT depth (NaN invalid) and poses; stamps
    start at 1 s (frame index / 30 s + 1 s)."""
    from align3r_ros.evaluation.datasets import load_sequence

    data = load_sequence('7scenes', shared / 'data' / '7scenes_redkitchen', frames=6)
    frames = []
    for frame in data.frames:
        small = downsample(frame)
        frames.append(Frame(stamp_ns=small.stamp_ns + 10**9, rgb=small.rgb, K=small.K,
                            gt_depth=small.gt_depth, gt_T_world_cam=small.gt_T_world_cam))
    return frames


@pytest.fixture
def write_bag(tmp_path):
    """write_bag(frames, name='in', **FramesBagOptions fields) -> the bag path."""
    def _write(frames, name: str = 'in', **options) -> Path:
        path = tmp_path / name
        write_frames_bag(frames, path, FramesBagOptions(**options))
        return path
    return _write
