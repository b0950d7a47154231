"""Every ros2 command that docs/node.md shows with its output, run against a launched node.

docs/node.md's ``console`` blocks are transcripts: ``$ command`` lines, each followed by what it
prints. The node is started as the page says (``ros2 launch align3r_ros align3r.launch.py
autostart:=false params_file:=...``, with the tiny random network so configure is quick), a
ros2 daemon of the test's own domain is started, and each command runs in order through bash;
its output must be what the page shows. Read-only commands (get, list, info, describe) are
repeated until they print it (the daemon learns of new endpoints by discovery, a moment after
a transition; the deadline only guards a hang); commands that change the node run once.
The page's ``export ...=$(ros2 pkg prefix align3r_ros)/...`` line is run too.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import List, Tuple

import pytest

from .launch_support import launch_command, ros_env, tiny_params

pytestmark = pytest.mark.ros
pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')

ROOT = Path(__file__).resolve().parents[3]
NODE_MD = ROOT / 'docs' / 'node.md'
READ_ONLY = re.compile(r'^ros2 (node list|topic (list|info)|lifecycle get|param (get|describe))\b')


def transcripts(text: str) -> List[Tuple[str, str]]:
    """(command, expected output) of every ``$ ...`` line in the page's console blocks."""
    steps: List[Tuple[str, List[str]]] = []
    for block in re.findall(r'```console\n(.*?)```', text, flags=re.DOTALL):
        for line in block.splitlines():
            if line.startswith('$ '):
                steps.append((line[2:].strip(), []))
            elif steps:
                steps[-1][1].append(line.rstrip())
    return [(command, '\n'.join(out).strip()) for command, out in steps]


def _run(command: str, env) -> str:
    done = subprocess.run(['bash', '-c', command], env=env, capture_output=True, text=True,
                          timeout=120)
    return (done.stdout + done.stderr).strip()


def test_every_documented_ros2_command_prints_what_the_docs_show(shared, domain_id, processes,
                                                                  tmp_path):
    steps = transcripts(NODE_MD.read_text(encoding='utf-8'))
    assert len(steps) >= 10 and all(c.startswith('ros2 ') for c, _ in steps), steps
    params = tiny_params(tmp_path / 'my_params.yaml', shared)
    env = ros_env(domain_id, tmp_path)
    launch = processes.start('launch', launch_command(
        'autostart:=false', f'params_file:={params}'), env)
    launch.wait_for_line('process started')
    daemon_stop = ['bash', '-c', 'ros2 daemon stop']
    assert 'started' in _run('ros2 daemon start', env)
    try:
        for command, expected in steps:
            output = _run(command, env)
            deadline = time.monotonic() + 60.0  # guards a hang only
            while (output != expected and READ_ONLY.match(command)
                   and time.monotonic() < deadline):
                output = _run(command, env)
            assert output == expected, f'$ {command}\n--- docs/node.md\n{expected}\n--- ran\n' \
                                       f'{output}'
    finally:
        subprocess.run(daemon_stop, env=env, capture_output=True, timeout=120)


def test_the_documented_profile_export_names_the_installed_profile(domain_id, tmp_path):
    line = next(line for line in NODE_MD.read_text(encoding='utf-8').splitlines()
                if line.startswith('export FASTDDS_DEFAULT_PROFILES_FILE=$(ros2 pkg prefix'))
    env = ros_env(domain_id, tmp_path)
    output = _run(f'{line} && test -f "$FASTDDS_DEFAULT_PROFILES_FILE" && '
                  'echo "$FASTDDS_DEFAULT_PROFILES_FILE"', env)
    assert output.endswith('/share/align3r_ros/config/fastdds_large_data.xml'), output
