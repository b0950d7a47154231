"""`ros2 launch align3r_ros align3r.launch.py` as users run it, with a camera process publishing
7-Scenes frames (``robot_process.py``) and the real engine (tiny random network).

Skipped where `ros2 launch` or the colcon-built package is missing (``source
.ci/ros2_env.sh`` provides both).
"""

from __future__ import annotations

import re

import pytest

from .launch_support import (
    launch_command,
    robot_command,
    robot_report,
    ros_env,
    seven_scenes_frames,
    tiny_params,
)

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')

FRAMES = 12
RATE_HZ = 10.0
#: what a clean start must not print (Fast DDS's deprecation warning, XML parser errors, ...).
WARNING = re.compile(r'WARN|ERROR|Error|deprecated', re.IGNORECASE)


def _parameters(domain_id: int, node_name: str, names):
    """The launched node's parameter values, read through its parameter services."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import parameter_value_to_python
    from rclpy.parameter_client import AsyncParameterClient

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        probe = rclpy.create_node('launch_test_probe', context=context)
        client = AsyncParameterClient(probe, node_name)
        assert client.wait_for_services(timeout_sec=60.0), f'no parameter services of {node_name}'
        future = client.get_parameters(list(names))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(probe)
        executor.spin_until_future_complete(future, timeout_sec=60.0)
        assert future.done(), 'get_parameters did not answer'
        values = [parameter_value_to_python(v) for v in future.result().values]
        return dict(zip(names, values))
    finally:
        rclpy.try_shutdown(context=context)


def _assert_every_frame_back(report: dict) -> None:
    measured = report['measured']
    assert len(measured) == FRAMES
    for output in ('depth/image', 'points', 'odometry', 'tf'):
        got = report['received'].get(output, [])
        assert sorted(set(got)) == measured, (output, sorted(set(measured) - set(got)))
    assert report['foreign'] == []


def test_launch_with_a_camera_delivers_every_frame_on_remapped_namespaced_names(
        shared, domain_id, processes, tmp_path):
    """namespace:=robot1 with image/camera_info remapped to the driver's absolute names: every
    frame's depth, cloud, odometry and TF come back under /robot1/align3r; the parameter
    layers apply in order (shipped file < params_file < the launch's use_sim_time/autostart);
    the launch log holds no warning up to the active node."""
    # params_file asks for autostart false and use_sim_time true: the launch arguments (after
    # it) must win, so the node autostarts on the wall clock.
    params = tiny_params(tmp_path / 'params.yaml', shared, autostart=False, use_sim_time=True)
    env = ros_env(domain_id, tmp_path)
    launch = processes.start('launch', launch_command(
        'namespace:=robot1', 'image:=/robot1/camera/image_raw',
        'camera_info:=/robot1/camera/camera_info', f'params_file:={params}'), env)
    launch.wait_for_line('[robot1.align3r]: active')
    start_up = launch.text().splitlines()  # launch, Fast DDS, configure, activate
    robot = processes.start('robot', robot_command(
        frames=seven_scenes_frames(shared), image_topic='/robot1/camera/image_raw',
        info_topic='/robot1/camera/camera_info', results='/robot1/align3r', count=FRAMES,
        rate=RATE_HZ), env)
    report = robot_report(robot)
    _assert_every_frame_back(report)

    values = _parameters(domain_id, '/robot1/align3r', [
        'preprocess.long_side', 'clip.length', 'use_sim_time', 'autostart'])
    assert values == {'preprocess.long_side': 48,  # params_file over the shipped 512
                      'clip.length': 10,  # the shipped file (no override)
                      'use_sim_time': False, 'autostart': True}  # the launch over params_file
    # (later lines may warn about the frames, e.g. an image that arrived before any
    # camera_info: the two topics are delivered independently)
    warnings = [line for line in start_up if WARNING.search(line)]
    assert warnings == [], warnings


def test_launch_with_use_sim_time_follows_clock(shared, domain_id, processes, tmp_path):
    """use_sim_time:=true with a driver publishing /clock (as `ros2 bag play --clock` does):
    every frame comes back, and the node's own clock (its /diagnostics stamps) runs on /clock,
    not on the wall clock."""
    params = tiny_params(tmp_path / 'params.yaml', shared)
    env = ros_env(domain_id, tmp_path)
    launch = processes.start('launch', launch_command(
        'use_sim_time:=true', 'image:=/camera/color/image_raw',
        'camera_info:=/camera/color/camera_info', f'params_file:={params}'), env)
    launch.wait_for_line('[align3r]: active')
    robot = processes.start('robot', robot_command(
        frames=seven_scenes_frames(shared), image_topic='/camera/color/image_raw',
        info_topic='/camera/color/camera_info', results='/align3r', count=FRAMES,
        rate=RATE_HZ, clock=True), env)
    report = robot_report(robot)
    _assert_every_frame_back(report)
    diagnostics = report['diagnostics']
    assert diagnostics, 'no /diagnostics while /clock advanced over a second'
    assert all(report['first'] <= s <= report['measured'][-1] for s in diagnostics), diagnostics
