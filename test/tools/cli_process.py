"""Running a tool's real entry point as a subprocess, as a user would (shared by test_cli_*)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import cv2
import numpy as np

#: How long a tool may take before a test gives up on it (it never should).
DEADLINE_S = 240.0


@dataclass(frozen=True)
class Finished:
    """A finished tool run."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> List[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def tool_command(module: str, args: Sequence[str]) -> List[str]:
    return [sys.executable, '-m', f'align3r_ros.tools.{module}', *map(str, args)]


def run_tool(module: str, args: Sequence[str], cwd: Optional[Path] = None,
             preexec_fn: Optional[Callable[[], None]] = None) -> Finished:
    """Run ``python3 -m align3r_ros.tools.<module> ARGS`` to completion."""
    proc = subprocess.run(tool_command(module, args), capture_output=True, text=True,
                          cwd=cwd, timeout=DEADLINE_S, preexec_fn=preexec_fn)
    return Finished(proc.returncode, proc.stdout, proc.stderr)


def signal_when(module: str, args: Sequence[str], started: Callable[[], bool],
                signum: int) -> Finished:
    """Start the tool, wait for the event ``started()`` (it has begun writing), send ``signum``.

    Fails when the tool exits before the event (it must still be working when signalled).
    """
    proc = subprocess.Popen(tool_command(module, args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not started():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f'exited ({proc.returncode}) before it started work: '
                                     f'{err[-2000:]}')
            if time.monotonic() > deadline:
                raise AssertionError('the tool never started work')
            time.sleep(0.005)  # polling the event (a file appearing), not waiting on luck
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Finished(proc.returncode, out, err)


def hidden_entries(folder: Path) -> List[str]:
    """Names of hidden entries (staging, set-aside outputs) in ``folder``."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith('.'))


def blocking_image_folder(folder: Path, frames_before: int = 2) -> Path:
    """An image folder whose image after ``frames_before`` real ones is a FIFO nobody writes:
    a tool reading it has started its output and then waits there until signalled."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames_before):
        cv2.imwrite(str(folder / f'{i:03d}.png'), np.full((24, 32, 3), 40 * i, np.uint8))
    os.mkfifo(folder / f'{frames_before:03d}.png')
    return folder


def staging_appeared(folder: Path, name: str) -> Callable[[], bool]:
    return lambda: any(Path(folder).glob(f'.{name}.partial-*'))


SIGNALS = [(signal.SIGINT, 130, 'interrupted'), (signal.SIGTERM, 143, 'terminated')]


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
