"""Launch the align3r node next to a camera driver.

    ros2 launch align3r_ros align3r.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info params_file:=my_params.yaml

Parameters come from the generated config/align3r.yaml, then ``params_file`` (your overrides),
then ``use_sim_time``; defaults are never redeclared here. Params files are keyed ``/**`` so
they apply under any ``namespace``.

``large_data_profile:=true`` (default) exports config/fastdds_large_data.xml as Fast DDS's
default profile for the processes this launch starts (32 MiB shared-memory segments: large
images from a best-effort camera arrive whole). Only the variable the Fast DDS found here reads
is set (``fastdds_profile_variable``): setting both makes Fast DDS 3 warn that the old one is
deprecated and load the file twice. Export the same variable for a camera driver started
elsewhere; other RMWs ignore it.
"""

import os
from pathlib import Path
from typing import Optional, Sequence

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'align3r_ros'
#: read by Fast DDS 3 (ROS 2 Kilted and newer); Fast DDS 2 (Humble, Jazzy) reads FASTRTPS_...
FASTDDS_PROFILES = 'FASTDDS_DEFAULT_PROFILES_FILE'
FASTRTPS_PROFILES = 'FASTRTPS_DEFAULT_PROFILES_FILE'
#: distributions that ship Fast DDS 2
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


def fastdds_profile_variable(prefixes: Sequence[str], ros_distro: Optional[str]) -> str:
    """The default-profile variable the Fast DDS of these install prefixes reads.

    The first prefix holding a Fast DDS library decides: ``libfastdds.so*`` is Fast DDS 3
    (``FASTDDS_DEFAULT_PROFILES_FILE``), ``libfastrtps.so*`` Fast DDS 2
    (``FASTRTPS_DEFAULT_PROFILES_FILE``). Without one, ``ROS_DISTRO`` decides (Humble, Iron and
    Jazzy ship Fast DDS 2); unknown: Fast DDS 3.
    """
    for prefix in prefixes:
        lib = Path(prefix) / 'lib'
        if any(lib.glob('libfastdds.so*')):
            return FASTDDS_PROFILES
        if any(lib.glob('libfastrtps.so*')):
            return FASTRTPS_PROFILES
    return FASTRTPS_PROFILES if (ros_distro or '').lower() in FAST_DDS_2_DISTROS \
        else FASTDDS_PROFILES


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    default_params = os.path.join(share, 'config', 'align3r.yaml')
    large_data = os.path.join(share, 'config', 'fastdds_large_data.xml')
    arguments = [
        DeclareLaunchArgument('namespace', default_value='', description='Node namespace'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description="Parameter overrides (YAML keyed '/**' or the node's "
                                          'full name)'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='Use /clock (true when playing a bag with --clock)'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='Configure and activate the lifecycle node at once'),
        DeclareLaunchArgument('image', default_value='image', description='Input image topic'),
        DeclareLaunchArgument('image_compressed', default_value='image/compressed',
                              description='Input CompressedImage topic (input.transport '
                                          'compressed)'),
        DeclareLaunchArgument('camera_info', default_value='camera_info',
                              description='Input CameraInfo topic'),
        DeclareLaunchArgument('prior_depth', default_value='prior/depth',
                              description='External depth prior topic (input.use_prior_topic)'),
        DeclareLaunchArgument('log_level', default_value='info',
                              description='debug, info, warn, error or fatal'),
        DeclareLaunchArgument('large_data_profile', default_value='true',
                              description='Use the shipped Fast DDS large-data profile '
                                          '(shared memory for large images)'),
    ]
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    profile = [SetEnvironmentVariable(
        fastdds_profile_variable(prefixes, os.environ.get('ROS_DISTRO')), large_data,
        condition=IfCondition(LaunchConfiguration('large_data_profile')))]
    node = Node(
        package=PACKAGE,
        executable='align3r_node',
        name='align3r',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        emulate_tty=True,
        parameters=[
            default_params,
            LaunchConfiguration('params_file'),
            {'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'), value_type=bool),
             'autostart': ParameterValue(LaunchConfiguration('autostart'), value_type=bool)},
        ],
        remappings=[
            ('image', LaunchConfiguration('image')),
            ('image/compressed', LaunchConfiguration('image_compressed')),
            ('camera_info', LaunchConfiguration('camera_info')),
            ('prior/depth', LaunchConfiguration('prior_depth')),
        ],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
    )
    return LaunchDescription(arguments + profile + [node])
