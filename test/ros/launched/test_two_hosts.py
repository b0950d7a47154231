"""Robots and a GPU server on one network: network namespaces as hosts, DDS between them.

The test makes three network namespaces joined by a bridge in the "server" one (a switch with
veth cables): ``server`` 10.213.0.254, ``robot1`` 10.213.0.1, ``robot2`` 10.213.0.2, each with
``lo`` up and a multicast route (Fast DDS's discovery), nothing outside them addressed. Every
process runs with ``ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET`` and Fast DDS's built-in transports
limited to UDPv4: the namespaces share /dev/shm, and shared memory would bypass the wire. The
camera (``robot_process.py``) runs in a robot namespace and sends 640x480 7-Scenes frames at
30 Hz as ``CompressedImage`` (JPEG, ~53 kB); the node is started with ``ros2 launch`` in the
server namespace (``large_data_profile:=false``: the profile's shared memory helps only within
a host); the robot process counts the results that come back across the link. Then two robots
and two namespaced nodes on the server, each robot getting only its own camera's results.

Needs root and ``ip`` (skips with one line otherwise). Everything it made (namespaces, links,
processes) is removed at the end, also when it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, List

import pytest

from .launch_support import (
    fresh_domain_id,
    launch_command,
    require_ros2_launch,
    robot_command,
    robot_report,
    ros_env,
    seven_scenes_frames,
    tiny_params,
)

pytestmark = pytest.mark.ros
pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')

RATE_HZ = 30.0
FRAMES = 90  # 3 s of camera
FRAMES_EACH = 60  # per robot when two share the server
SUBNET = '10.213.0'
SERVER_ADDRESS = 254
MIN_DELIVERED = 0.99


def _ip(*args: str) -> None:
    done = subprocess.run(['ip', *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Network:
    """The namespaces: ``server`` plus ``robots`` (names unique to this test run)."""

    def __init__(self, robots: int) -> None:
        tag = f'a3r{os.getpid()}'
        self.server = f'{tag}-server'
        self.robots = [f'{tag}-robot{i + 1}' for i in range(robots)]
        self.made: List[str] = []

    def make(self) -> None:
        server = self.server
        self._namespace(server)
        _ip('-n', server, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
        _ip('-n', server, 'addr', 'add', f'{SUBNET}.{SERVER_ADDRESS}/24', 'dev', 'br0')
        _ip('-n', server, 'link', 'set', 'br0', 'up')
        _ip('-n', server, 'route', 'add', '224.0.0.0/4', 'dev', 'br0')
        for index, robot in enumerate(self.robots, start=1):
            self._namespace(robot)
            cable = f'port{index}'
            _ip('-n', server, 'link', 'add', cable, 'type', 'veth', 'peer', 'name', 'eth0',
                'netns', robot)
            _ip('-n', server, 'link', 'set', cable, 'master', 'br0', 'up')
            _ip('-n', robot, 'addr', 'add', f'{SUBNET}.{index}/24', 'dev', 'eth0')
            _ip('-n', robot, 'link', 'set', 'eth0', 'up')
            _ip('-n', robot, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')

    def _namespace(self, name: str) -> None:
        _ip('netns', 'add', name)
        self.made.append(name)
        _ip('-n', name, 'link', 'set', 'lo', 'up')

    def remove(self) -> None:
        """Deleting a namespace deletes its links (the veth peers with them)."""
        for name in reversed(self.made):
            subprocess.run(['ip', 'netns', 'delete', name], capture_output=True, timeout=30)
        self.made = []

    @staticmethod
    def run_in(name: str) -> List[str]:
        return ['ip', 'netns', 'exec', name]


@pytest.fixture(scope='module')
def network():
    require_ros2_launch()
    if os.geteuid() != 0 or shutil.which('ip') is None:
        pytest.skip('two hosts need root and `ip` (network namespaces + veth)')
    net = Network(robots=2)
    try:
        net.make()
    except RuntimeError as exc:
        net.remove()
        pytest.skip(f'cannot make network namespaces here: {exc}')
    yield net
    net.remove()


def _env(domain_id: int, tmp_path) -> Dict[str, str]:
    return ros_env(domain_id, tmp_path, ROS_AUTOMATIC_DISCOVERY_RANGE='SUBNET',
                   FASTDDS_BUILTIN_TRANSPORTS='UDPv4')


def _start_server_node(processes, network, env, shared, tmp_path, robot: str):
    params = tiny_params(tmp_path / f'{robot}.yaml', shared, **{
        'input.transport': 'compressed', 'frames.world_frame': f'{robot}_world'})
    camera = f'/{robot}/camera'
    return processes.start(f'launch_{robot}', launch_command(
        f'namespace:={robot}', f'image:={camera}/image_raw',
        f'image_compressed:={camera}/image_raw/compressed',
        f'camera_info:={camera}/camera_info', f'params_file:={params}',
        'large_data_profile:=false'), env, prefix=network.run_in(network.server))


def _start_robot(processes, network, env, shared, robot: str, index: int, count: int):
    camera = f'/{robot}/camera'
    return processes.start(robot, robot_command(
        frames=seven_scenes_frames(shared), image_topic=f'{camera}/image_raw',
        info_topic=f'{camera}/camera_info', results=f'/{robot}/align3r', count=count,
        rate=RATE_HZ, compressed=True, frame_id=f'{robot}_camera',
        world_frame=f'{robot}_world'), env, prefix=network.run_in(network.robots[index]))


def _delivered(report: dict) -> Dict[str, float]:
    measured = set(report['measured'])
    return {output: len(measured & set(report['received'].get(output, []))) / len(measured)
            for output in ('depth/image', 'points', 'odometry', 'tf')}


def test_camera_on_a_robot_node_on_the_server(network, shared, processes, tmp_path):
    env = _env(fresh_domain_id(), tmp_path)
    launch = _start_server_node(processes, network, env, shared, tmp_path, 'robot1')
    launch.wait_for_line('[robot1.align3r]: active')
    robot = _start_robot(processes, network, env, shared, 'robot1', 0, FRAMES)
    report = robot_report(robot)
    delivered = _delivered(report)
    print(f'two hosts, {FRAMES} frames 640x480 at {RATE_HZ:g} Hz compressed: {delivered}')
    assert len(report['measured']) == FRAMES
    assert min(delivered.values()) >= MIN_DELIVERED, delivered
    assert report['foreign'] == []


def test_two_robots_each_get_only_their_own_results(network, shared, processes, tmp_path):
    env = _env(fresh_domain_id(), tmp_path)
    launches = [_start_server_node(processes, network, env, shared, tmp_path, robot)
                for robot in ('robot1', 'robot2')]
    for launch, robot in zip(launches, ('robot1', 'robot2')):
        launch.wait_for_line(f'[{robot}.align3r]: active')
    robots = [_start_robot(processes, network, env, shared, robot, index, FRAMES_EACH)
              for index, robot in enumerate(('robot1', 'robot2'))]
    for robot, name in zip(robots, ('robot1', 'robot2')):
        report = robot_report(robot)
        delivered = _delivered(report)
        print(f'{name}: {FRAMES_EACH} frames at {RATE_HZ:g} Hz compressed: {delivered}')
        assert min(delivered.values()) >= MIN_DELIVERED, (name, delivered)
        assert report['foreign'] == [], (name, report['foreign'])  # no other robot's frames
