"""Synthetic sequences: frames with ground truth, as a list or streamed lazily."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List

import numpy as np

from align3r_ros.errors import InputError
from align3r_ros.geometry.camera import default_intrinsics
from align3r_ros.structures import Frame
from align3r_ros.synthetic.camera_path import camera_pose_at
from align3r_ros.synthetic.render import render_view
from align3r_ros.synthetic.scene import Scene, make_scene

#: Stamp of frame 0 and the frame period (30 Hz), integer nanoseconds.
STAMP0_NS = 1_000_000_000
PERIOD_NS = 33_333_333


@dataclass(frozen=True)
class SyntheticSequence:
    """A rendered sequence and its ground truth.

    Attributes:
        frames: the N frames (their ``gt_*`` fields and ``K`` filled; arrays shared with the
            stacked arrays below).
        rgb: (N, H, W, 3) uint8.
        depth: (N, H, W) float32 metres, valid everywhere.
        T_world_cam: (N, 4, 4) float64 camera-to-world poses.
        K: (3, 3) float64 intrinsics at (H, W), the same for every frame.
        dynamic_mask: (N, H, W) bool, True on moving objects.
        scene: the scene that was rendered.
    """

    frames: List[Frame]
    rgb: np.ndarray
    depth: np.ndarray
    T_world_cam: np.ndarray
    K: np.ndarray
    dynamic_mask: np.ndarray
    scene: Scene

    @property
    def trajectory_length(self) -> float:
        """Sum of the camera centre steps, metres."""
        steps = np.diff(self.T_world_cam[:, :3, 3], axis=0)
        return float(np.linalg.norm(steps, axis=1).sum())


def synthetic_intrinsics(height: int, width: int) -> np.ndarray:
    """(3, 3) pinhole K with a ~64 degree horizontal field of view.

    The principal point is (W/2, H/2), the point the estimated-intrinsics mode assumes (spec
    §5.2): with (W-1)/2 instead, that mode carries a half-pixel bias, which at 48x64 alone
    costs ~0.3 % of ATE and would hide what the solvers themselves achieve.
    """
    return default_intrinsics(height, width, 0.8 * width)


def iter_frames(num_frames: int, height: int, width: int, seed: int = 0, num_movers: int = 1,
                num_static: int = 3, speed: float = 1.0) -> Iterator[Frame]:
    """Render frames one at a time (constant memory, for soak runs).

    Args:
        num_frames: N.
        height, width: image size, pixels.
        seed: scene, texture and path seed.
        num_movers: moving spheres (0 gives a rigid scene).
        num_static: static boxes and spheres.
        speed: camera speed factor (0: static camera).
    """
    if num_frames < 0 or height < 2 or width < 2:
        raise InputError(f'bad synthetic size: {num_frames} frames of {height}x{width}')
    scene = make_scene(seed, num_movers=num_movers, num_static=num_static)
    K = synthetic_intrinsics(height, width)
    for k in range(num_frames):
        T_world_cam = camera_pose_at(k, seed, speed)
        view = render_view(scene, T_world_cam, K, height, width, k)
        yield Frame(stamp_ns=STAMP0_NS + k * PERIOD_NS, rgb=view.rgb, K=K.copy(),
                    gt_depth=view.depth, gt_T_world_cam=T_world_cam,
                    gt_dynamic_mask=view.dynamic_mask)


def make_sequence(num_frames: int, height: int, width: int, seed: int = 0, num_movers: int = 1,
                  num_static: int = 3, speed: float = 1.0) -> SyntheticSequence:
    """Render a whole sequence (arguments as :func:`iter_frames`).

    Rendering is vectorised per frame: 2000 frames of 48x64 take a few seconds.
    """
    frames = list(iter_frames(num_frames, height, width, seed, num_movers, num_static, speed))
    if not frames:
        raise InputError(f'a synthetic sequence needs frames, got num_frames={num_frames}')
    return SyntheticSequence(
        frames=frames,
        rgb=np.stack([f.rgb for f in frames]),
        depth=np.stack([f.gt_depth for f in frames]),
        T_world_cam=np.stack([f.gt_T_world_cam for f in frames]),
        K=frames[0].K.copy(),
        dynamic_mask=np.stack([f.gt_dynamic_mask for f in frames]),
        scene=make_scene(seed, num_movers=num_movers, num_static=num_static))
