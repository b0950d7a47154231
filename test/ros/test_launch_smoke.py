"""Launch smoke test on a real ROS 2 installation: the node comes up under its name.

Needs the package built and sourced (``colcon build && source install/setup.bash``); skipped
where rclpy or ``ros2`` is absent.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]
rclpy = pytest.importorskip('rclpy')


def test_launch_brings_up_the_align3r_node():
    if shutil.which('ros2') is None:
        pytest.skip('ros2 CLI not on PATH')
    process = subprocess.Popen(
        ['ros2', 'launch', 'align3r_ros', 'align3r.launch.py', 'autostart:=false',
         'namespace:=smoke'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    rclpy.init()
    probe = rclpy.create_node('align3r_launch_probe')
    try:
        deadline = time.monotonic() + 30.0
        found = False
        while time.monotonic() < deadline and not found:
            rclpy.spin_once(probe, timeout_sec=0.2)
            found = ('align3r', '/smoke') in probe.get_node_names_and_namespaces()
        assert found, 'node /smoke/align3r did not appear'
        assert process.poll() is None, 'launch exited early'
    finally:
        probe.destroy_node()
        rclpy.try_shutdown()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
