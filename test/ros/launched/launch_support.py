"""`ros2 launch` as the tests run it: the environment, a tiny parameter file, the process.

Everything here is for tests that start the package the way users do (``ros2 launch
align3r_ros ...`` from the colcon workspace that ``.ci/ros2_env.sh`` builds) and talk to it from
other processes (``robot_process.py``, the ros2 CLI). Each test gets a ROS domain of its own, so
parallel runs (and other tests on domain 87) never see its nodes; logs go to the test's folder.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROBOT = HERE / 'robot_process.py'
#: the tiny DUSt3R-layout network with random weights (../shared/fixtures); no prior needed.
TINY_WEIGHTS = Path('fixtures') / 'dust3r_tiny' / 'weights.safetensors'
SEVEN_SCENES = Path('data') / '7scenes_redkitchen' / 'color'
_domains = itertools.count()


def require_ros2_launch() -> None:
    """Skip (one line) where `ros2 launch` or the built package (in AMENT_PREFIX_PATH) is not
    available."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    index = Path('share') / 'ament_index' / 'resource_index' / 'packages' / 'align3r_ros'
    if shutil.which('ros2') is None or not any((Path(p) / index).is_file() for p in prefixes):
        pytest.skip('needs `ros2 launch` and the colcon-built package: source .ci/ros2_env.sh')


def fresh_domain_id() -> int:
    """A ROS domain of this test's own, in 1..100 (never 87, the other ROS tests' domain)."""
    while True:
        domain = 1 + (os.getpid() * 7 + next(_domains) * 13) % 100
        if domain != 87:
            return domain


def ros_env(domain_id: int, log_dir: Path, **extra: str) -> Dict[str, str]:
    """The current environment for a ROS process of the test: its domain, logs under
    ``log_dir``, no ros2 daemon state shared with other domains."""
    env = dict(os.environ)
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_LOG_DIR=str(log_dir),
               PYTHONUNBUFFERED='1', RCUTILS_COLORIZED_OUTPUT='0')
    env.update(extra)
    return env


def tiny_params(path: Path, shared: Path, **overrides) -> Path:
    """A params file (keyed ``/**``) for the real engine with the tiny random network at long
    side 48 on the CPU (configure takes a fraction of a second), queue large enough that no
    frame of a short test is dropped; ``overrides``: more parameters (dotted names)."""
    weights = shared / TINY_WEIGHTS
    if not weights.is_file():
        pytest.skip(f'tiny DUSt3R fixture not found at {weights}')
    params = {'pairwise.backend': 'torch', 'pairwise.weights': str(weights),
              'pairwise.checkpoint_prior': 'none', 'prior.backend': 'none',
              'preprocess.long_side': 48, 'dynamic.enabled': False,
              'runtime.device': 'cpu', 'runtime.threads': 1, 'input.queue_size': 400}
    params.update(overrides)
    path.write_text(yaml.safe_dump({'/**': {'ros__parameters': params}}), encoding='utf-8')
    return path


def seven_scenes_frames(shared: Path) -> Path:
    folder = shared / SEVEN_SCENES
    if not folder.is_dir():
        pytest.skip(f'7-Scenes frames not found at {folder}')
    return folder


class Process:
    """A child process (own session) whose output is collected line by line into a log file;
    :meth:`stop` ends it (SIGINT, then SIGKILL of its group after ``grace_s``)."""

    def __init__(self, command: Sequence[str], env: Dict[str, str], log: Path,
                 prefix: Sequence[str] = (), stdin: bool = False) -> None:
        self.command = list(prefix) + list(command)
        self.log = log
        self.lines: List[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            self.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True,
            start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with open(self.log, 'w', encoding='utf-8') as out:
            for line in self.proc.stdout:
                out.write(line)
                out.flush()
                with self._changed:
                    self.lines.append(line.rstrip('\n'))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, needle: str, timeout_s: float = 120.0) -> str:
        """The first output line containing ``needle`` (the deadline only guards a hang)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = next((line for line in self.lines if needle in line), None)
                if found is not None:
                    return found
                if not self._reader.is_alive():
                    raise AssertionError(f'{self.command[0]} ended without {needle!r}:\n'
                                         + self.text())
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f'no {needle!r} from {self.command}:\n' + self.text())
                self._changed.wait(min(remaining, 1.0))

    def text(self) -> str:
        with self._changed:
            return '\n'.join(self.lines)

    def wait(self, timeout_s: float = 300.0) -> int:
        """Exit code (the deadline only guards a hang); the output is read to its end."""
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout=10)
        return code

    def send_line(self, line: str) -> None:
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def stop(self, grace_s: float = 20.0) -> Optional[int]:
        """SIGINT (``ros2 launch`` passes it on to the node), then SIGKILL of the whole
        process group if it has not exited within ``grace_s``."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._reader.join(timeout=10)
        return self.proc.returncode


def launch_command(*arguments: str, launch_file: str = 'align3r.launch.py') -> List[str]:
    return ['ros2', 'launch', 'align3r_ros', launch_file, *arguments]


def robot_command(**options) -> List[str]:
    """``robot_process.py`` with ``--option value`` for each keyword (True: a flag)."""
    command = [sys.executable, str(ROBOT)]
    for key, value in options.items():
        flag = '--' + key.replace('_', '-')
        if value is True:
            command.append(flag)
        elif value is not False and value is not None:
            command += [flag, str(value)]
    return command


def robot_report(process: Process, timeout_s: float = 300.0) -> dict:
    """Wait for the robot process to end and return its JSON report."""
    code = process.wait(timeout_s)
    assert code == 0, f'robot process exited {code}:\n{process.text()}'
    line = process.lines[-1] if process.lines else ''
    assert line.startswith('{'), f'no report from the robot process:\n{process.text()}'
    return json.loads(line)


class Processes:
    """Processes a test started; :meth:`stop_all` ends every one of them (reverse order)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: List[Process] = []

    def start(self, name: str, command: Sequence[str], env: Dict[str, str],
              prefix: Sequence[str] = (), stdin: bool = False) -> Process:
        process = Process(command, env, self.folder / f'{name}.log', prefix, stdin)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()
