"""Play a rosbag2 into the align3r node with simulated time (on-robot checks, replay).

    ros2 launch align3r_ros align3r_bag.launch.py bag:=/path/to/bag \
        image:=/camera/color/image_raw camera_info:=/camera/color/camera_info

``ros2 bag play --clock`` publishes /clock and the node runs with use_sim_time, so every output
is stamped with the bag's image stamps. The bag starts after ``delay`` seconds so the node is
active first.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription,
                            TimerAction)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

PACKAGE = 'align3r_ros'


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    arguments = [
        DeclareLaunchArgument('bag', description='rosbag2 folder (or .mcap / .db3 file)'),
        DeclareLaunchArgument('rate', default_value='1.0', description='Playback rate'),
        DeclareLaunchArgument('delay', default_value='3.0',
                              description='Seconds to wait before playing'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'align3r.yaml')),
        DeclareLaunchArgument('image', default_value='image'),
        DeclareLaunchArgument('camera_info', default_value='camera_info'),
        DeclareLaunchArgument('log_level', default_value='info'),
    ]
    node = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'align3r.launch.py')),
        launch_arguments={
            'use_sim_time': 'true',
            'params_file': LaunchConfiguration('params_file'),
            'image': LaunchConfiguration('image'),
            'camera_info': LaunchConfiguration('camera_info'),
            'log_level': LaunchConfiguration('log_level'),
        }.items())
    play = ExecuteProcess(
        cmd=['ros2', 'bag', 'play', LaunchConfiguration('bag'), '--clock',
             '--rate', LaunchConfiguration('rate')],
        output='screen')
    return LaunchDescription(arguments + [
        node, TimerAction(period=LaunchConfiguration('delay'), actions=[play])])
