"""The launch files as the real `launch` / `launch_ros` evaluate them (no process started).

Each file is loaded from the installed package share (where `ros2 launch` finds it) and its
entities are evaluated in a ``LaunchContext`` with given launch arguments, in order, the way
``ros2 launch`` does: declared arguments, environment actions and their conditions, included
descriptions, then the Node's substitutions (namespace, remappings, the parameter files in the
order the node receives them). What the node then does with them is checked by
test_launch_run.py against a launched node.
"""

from __future__ import annotations

import importlib.util
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List

import pytest
import yaml

from align3r_ros.ros import topics

from .launch_support import require_ros2_launch

pytestmark = pytest.mark.ros
launch = pytest.importorskip('launch', reason='needs launch (source .ci/ros2_env.sh)')
pytest.importorskip('launch_ros', reason='needs launch_ros (source .ci/ros2_env.sh)')

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTED_ARGUMENTS = ('namespace', 'params_file', 'use_sim_time', 'autostart', 'image',
                        'image_compressed', 'camera_info', 'prior_depth', 'log_level',
                        'large_data_profile')


class Evaluated:
    """A launch file evaluated with ``arguments`` (``name:=value`` on the command line)."""

    def __init__(self, name: str, **arguments: str) -> None:
        from ament_index_python.packages import get_package_share_directory
        from launch.launch_description_sources import PythonLaunchDescriptionSource

        require_ros2_launch()
        self.share = Path(get_package_share_directory('align3r_ros'))
        self.context = launch.LaunchContext()
        self.context.launch_configurations.update(arguments)
        source = PythonLaunchDescriptionSource(str(self.share / 'launch' / name))
        self.description = source.get_launch_description(self.context)
        self.nodes: List = []
        self.timers: List = []
        self.includes: List = []
        # the context's environment is this process's os.environ: restore it afterwards
        before = dict(os.environ)
        try:
            self._visit(self.description.entities)
        finally:
            self.environment_set = {k: v for k, v in os.environ.items() if before.get(k) != v}
            os.environ.clear()
            os.environ.update(before)

    def _visit(self, entities) -> None:
        from launch.actions import (DeclareLaunchArgument, IncludeLaunchDescription,
                                    SetEnvironmentVariable, SetLaunchConfiguration,
                                    TimerAction)
        from launch_ros.actions import Node

        for entity in entities:
            if isinstance(entity, launch.LaunchDescription):
                self._visit(entity.entities)
            elif isinstance(entity, (DeclareLaunchArgument, SetLaunchConfiguration)):
                entity.execute(self.context)
            elif isinstance(entity, SetEnvironmentVariable):
                if entity.condition is None or entity.condition.evaluate(self.context):
                    entity.execute(self.context)
            elif isinstance(entity, IncludeLaunchDescription):
                self.includes.append(entity)
                self._visit(entity.execute(self.context))
            elif isinstance(entity, Node):
                entity._perform_substitutions(self.context)  # what execute() does first
                self.nodes.append(entity)
            elif isinstance(entity, TimerAction):
                self.timers.append(entity)
            else:
                raise AssertionError(f'unexpected launch entity {entity!r}')

    def resolve(self, substitutions) -> str:
        from launch.utilities import perform_substitutions
        return perform_substitutions(self.context, list(substitutions))

    def node_command(self) -> List[str]:
        """The node's command line (namespace and name placeholders filled as launch_ros
        does at execute)."""
        node, = self.nodes
        self.context.extend_locals({'ros_specific_arguments': {
            'ns': f'__ns:={node.expanded_node_namespace}', 'name': '__node:=align3r'}})
        return [self.resolve(part) for part in node.cmd]

    def parameter_layers(self) -> List[dict]:
        """The node's parameter files, in the order it reads them (later ones win), loaded."""
        command = self.node_command()
        files = [command[i + 1] for i, arg in enumerate(command) if arg == '--params-file']
        return [yaml.safe_load(Path(f).read_text(encoding='utf-8')) for f in files]


def test_arguments_are_the_documented_ones_and_described():
    evaluated = Evaluated('align3r.launch.py')
    declared = {a.name: a for a in evaluated.description.get_launch_arguments()}
    assert tuple(declared) == DOCUMENTED_ARGUMENTS
    assert all(a.description and a.description != 'no description given'
               for a in declared.values())
    node, = evaluated.nodes
    assert node.node_package == 'align3r_ros' and node.node_name == '/align3r'
    from ament_index_python.packages import get_package_prefix
    executable = Path(evaluated.node_command()[0])
    assert executable == (Path(get_package_prefix('align3r_ros')) / 'lib' / 'align3r_ros'
                          / 'align3r_node')
    assert os.access(executable, os.X_OK)


def test_parameter_layers_shipped_file_then_params_file_then_launch_overrides(tmp_path):
    shipped, params_file, overrides = Evaluated('align3r.launch.py').parameter_layers()
    assert shipped == yaml.safe_load((ROOT / 'config' / 'align3r.yaml').read_text())
    assert list(shipped) == ['/**']  # applies under any namespace
    assert params_file == shipped  # params_file defaults to the same file
    assert overrides == {'/align3r': {'ros__parameters': {'use_sim_time': False,
                                                          'autostart': True}}}
    mine = tmp_path / 'mine.yaml'
    mine.write_text(yaml.safe_dump({'/**': {'ros__parameters': {'clip.length': 4}}}))
    evaluated = Evaluated('align3r.launch.py', namespace='robot1', params_file=str(mine),
                          use_sim_time='true', autostart='false')
    _, params_file, overrides = evaluated.parameter_layers()
    assert params_file == {'/**': {'ros__parameters': {'clip.length': 4}}}
    assert overrides == {'/robot1/align3r': {'ros__parameters': {'use_sim_time': True,
                                                                 'autostart': False}}}
    node, = evaluated.nodes
    assert node.expanded_node_namespace == '/robot1'


def test_remappings_cover_exactly_the_topics_the_node_subscribes_to():
    node, = Evaluated('align3r.launch.py').nodes
    remapped = dict(node.expanded_remapping_rules)
    assert set(remapped) == set(topics.ALL_INPUT_TOPICS)
    assert all(remapped[t] == t for t in remapped)  # defaults: relative, follow the namespace
    node, = Evaluated('align3r.launch.py', image='/camera/color/image_raw',
                      camera_info='/camera/color/camera_info').nodes
    driver = dict(node.expanded_remapping_rules)
    assert driver[topics.IMAGE_TOPIC] == '/camera/color/image_raw'
    assert driver[topics.CAMERA_INFO_TOPIC] == '/camera/color/camera_info'


def test_large_data_profile_exports_only_the_variable_this_fast_dds_reads():
    """Here (Kilted wheels, Fast DDS 3: libfastdds) only FASTDDS_DEFAULT_PROFILES_FILE; setting
    FASTRTPS_... too makes Fast DDS 3 warn and load the profile twice."""
    evaluated = Evaluated('align3r.launch.py')
    profile = evaluated.share / 'config' / 'fastdds_large_data.xml'
    assert evaluated.environment_set == {'FASTDDS_DEFAULT_PROFILES_FILE': str(profile)}
    ns = {'dds': 'http://www.eprosima.com'}
    tree = ET.parse(profile)
    sizes = [int(e.text) for e in tree.iterfind('.//dds:segment_size', ns)]
    assert sizes and min(sizes) >= 8 * 1280 * 720 * 3  # several 720p frames fit
    assert tree.find('.//dds:participant', ns).get('is_default_profile') == 'true'
    assert Evaluated('align3r.launch.py', large_data_profile='false').environment_set == {}


@pytest.mark.parametrize('library, distro, variable', [
    ('libfastdds.so.3.2', None, 'FASTDDS_DEFAULT_PROFILES_FILE'),  # Kilted
    ('libfastrtps.so.2.14', 'jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE'),  # Jazzy: Fast DDS 2
    ('libfastrtps.so.2.6', None, 'FASTRTPS_DEFAULT_PROFILES_FILE'),  # Humble
    (None, 'humble', 'FASTRTPS_DEFAULT_PROFILES_FILE'),  # no library found: the distro
    (None, 'kilted', 'FASTDDS_DEFAULT_PROFILES_FILE'),
    (None, None, 'FASTDDS_DEFAULT_PROFILES_FILE'),
])
def test_profile_variable_follows_the_fast_dds_found(tmp_path, library, distro, variable):
    spec = importlib.util.spec_from_file_location('align3r_launch',
                                                  ROOT / 'launch' / 'align3r.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    empty, prefix = tmp_path / 'empty', tmp_path / 'prefix'
    (empty / 'lib').mkdir(parents=True)
    (prefix / 'lib').mkdir(parents=True)
    if library:
        (prefix / 'lib' / library).touch()
    assert module.fastdds_profile_variable([str(empty), str(prefix)], distro) == variable


def test_bag_launch_runs_the_node_on_sim_time_and_plays_with_clock_after_the_delay():
    evaluated = Evaluated('align3r_bag.launch.py', bag='/data/bag')
    include, = evaluated.includes
    assert Path(include.launch_description_source.location) == \
        evaluated.share / 'launch' / 'align3r.launch.py'
    node, = evaluated.nodes  # the included launch file's node, with the forwarded arguments
    *_, overrides = evaluated.parameter_layers()
    assert overrides['/align3r']['ros__parameters']['use_sim_time'] is True
    timer, = evaluated.timers
    assert float(evaluated.resolve(timer.period)) == 3.0
    play, = timer.actions
    command = [evaluated.resolve(part) for part in play.cmd]
    assert command == ['ros2', 'bag', 'play', '/data/bag', '--clock', '--rate', '1.0']


def test_bag_launch_plays_a_bag():
    pytest.skip('ros2 bag (rosbag2, C++) is not installable from PyPI here: the play itself '
                'is not run (the launch file is checked above)')


def test_node_subscriptions_are_the_launch_remapping_sources():
    """With real rclpy: the topics the active node subscribes to are the remapping sources,
    for every input configuration.

    The node's own subscription objects are read, not the ROS graph: the graph cache learns
    of new local endpoints through discovery, asynchronously, so reading it right after
    activate races (a subscription created a moment earlier can be missing)."""
    rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')
    from rclpy.parameter import Parameter

    from align3r_ros.ros.node import Align3rNode
    node_action, = Evaluated('align3r.launch.py').nodes
    remapped = set(dict(node_action.expanded_remapping_rules))
    context = rclpy.Context()
    rclpy.init(context=context)
    seen = set()
    try:
        for overrides in ({'input.use_prior_topic': True},
                          {'input.transport': 'compressed', 'input.camera_info': 'none'}):
            node = Align3rNode(engine_builder=lambda c: lambda: None, context=context,
                               parameter_overrides=[Parameter(k, value=v)
                                                    for k, v in overrides.items()])
            try:
                node.trigger_configure()
                node.trigger_activate()
                subscribed = {sub.topic_name.lstrip('/') for sub in node.subscriptions}
                inputs = subscribed - {'tf_static', 'parameter_events'}
                assert inputs <= remapped, inputs - remapped
                seen |= inputs
            finally:
                node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    assert seen == remapped
