"""Running a tool's real entry point as a subprocess, as a user would, or its ``main(argv)`` in
this process (the test_cli_* tests), and what those tests look for: signals and their exit
codes, staging left behind.

A check that needs a process of its own (a signal, a resource limit, the console script, the
interpreter's exit status) runs the tool with :func:`run_tool`; anything else with
:func:`run_main`, which sees the same exit status and output without starting an interpreter.
"""

from __future__ import annotations

import contextlib
import importlib
import io
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


def run_main(module: str, args: Sequence[str]) -> Finished:
    """Run ``align3r_ros.tools.<module>.main(ARGS)`` in this process, its stdout and stderr
    captured; argparse's exit (usage errors, 2) is an exit status as from the process."""
    main = importlib.import_module(f'align3r_ros.tools.{module}').main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return Finished(int(code or 0), out.getvalue(), err.getvalue())


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
