"""Small inputs of the command-line tests: textured synthetic frames with ground truth, a bag
of them, a TUM RGB-D layout sequence, the ground-truth topic flags of such a bag."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


def synthetic_frames(count: int, height: int = 48, width: int = 64):
    """``count`` textured frames of a plane 1.5-2.5 m away (tilted: depth grows down the
    image), the camera sliding along x, with intrinsics, ground-truth depth and poses (enough
    for the oracle backend, and a usable depth prior)."""
    from align3r_ros.structures import Frame

    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (height, width + count, 3), dtype=np.uint8)
    K = np.array([[50.0, 0.0, width / 2], [0.0, 50.0, height / 2], [0.0, 0.0, 1.0]])
    depth = np.repeat(np.linspace(1.5, 2.5, height, dtype=np.float32)[:, None], width, axis=1)
    frames = []
    for i in range(count):
        T = np.eye(4)
        T[0, 3] = 0.02 * i
        frames.append(Frame(stamp_ns=10**9 + i * 10**8,
                            rgb=np.ascontiguousarray(texture[:, i:i + width]), K=K,
                            gt_depth=depth,
                            gt_T_world_cam=T))
    return frames


def write_bag(path: Path, count: int) -> Path:
    from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag

    write_frames_bag(synthetic_frames(count), path, FramesBagOptions())
    return path


GT_FLAGS = ['--gt-depth-topic', '/camera/depth/image_raw', '--gt-pose-topic',
            '/ground_truth/pose']


def write_tum_sequence(folder: Path, count: int, fifo_image: bool = False) -> Path:
    """A TUM RGB-D layout sequence (rgb.txt, depth.txt, groundtruth.txt); with ``fifo_image``
    its last image is a FIFO nobody writes, so loading it waits until the loader is signalled."""
    (folder / 'rgb').mkdir(parents=True)
    (folder / 'depth').mkdir()
    rgb, depth, poses = [], [], []
    for i, frame in enumerate(synthetic_frames(count)):
        t = f'{1000.0 + i / 30.0:.6f}'
        if fifo_image and i == count - 1:
            os.mkfifo(folder / 'rgb' / f'{t}.png')
        else:
            cv2.imwrite(str(folder / 'rgb' / f'{t}.png'), frame.rgb[..., ::-1])
        cv2.imwrite(str(folder / 'depth' / f'{t}.png'),
                    (5000 * frame.gt_depth).astype(np.uint16))
        rgb.append(f'{t} rgb/{t}.png')
        depth.append(f'{t} depth/{t}.png')
        poses.append(f'{t} {frame.gt_T_world_cam[0, 3]} 0 0 0 0 0 1')
    for name, lines in (('rgb.txt', rgb), ('depth.txt', depth), ('groundtruth.txt', poses)):
        (folder / name).write_text('\n'.join(lines) + '\n')
    return folder
