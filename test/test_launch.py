"""The launch files, evaluated against a small fake of the ``launch`` / ``launch_ros`` API.

The fake records every action and resolves ``LaunchConfiguration`` substitutions and
``IfCondition`` the way ``ros2 launch`` does (declared defaults, overridden by launch
arguments), so these tests check what the launch would actually start: the executable, the
parameter files, the remappings (against the topics the node subscribes to,
``align3r_ros.ros.topics``; with rclpy, against the node's real subscriptions too) and the Fast
DDS profile. No ROS is needed except for the last test.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from align3r_ros.ros import topics

ROOT = Path(__file__).resolve().parents[1]


class Action:
    """Any launch object: keeps its positional and keyword arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Action):
    pass


class IfCondition(Action):
    pass


class Launched:
    """A launch description evaluated with ``launch_args`` (like ``name:=value``)."""

    def __init__(self, description: Action, launch_args: Dict[str, str]) -> None:
        self.actions: List[Action] = list(description.args[0])
        declared = {a.args[0]: a.kwargs.get('default_value') for a in self.actions
                    if type(a).__name__ == 'DeclareLaunchArgument'}
        self.values = {**declared, **launch_args}
        self.environment: Dict[str, str] = {}
        for action in self.of('SetEnvironmentVariable'):
            condition = action.kwargs.get('condition')
            if condition is None or self.resolve(condition.args[0]).lower() in ('true', '1'):
                self.environment[action.args[0]] = self.resolve(action.args[1])

    def of(self, kind: str) -> List[Action]:
        return [a for a in self.actions if type(a).__name__ == kind]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, LaunchConfiguration):
            name = value.args[0]
            assert name in self.values, f'LaunchConfiguration({name!r}) is not declared'
            assert self.values[name] is not None, f'launch argument {name} has no default'
            return self.values[name]
        if type(value).__name__ == 'ParameterValue':
            return self.resolve(value.args[0])
        if isinstance(value, (list, tuple)):
            return type(value)(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def node(self) -> Dict[str, Any]:
        node, = self.of('Node')
        return {key: self.resolve(value) for key, value in node.kwargs.items()}


def _fake_modules(share_dir: Path) -> dict:
    classes = {name: type(name, (Action,), {}) for name in (
        'LaunchDescription', 'DeclareLaunchArgument', 'Node', 'ParameterValue',
        'ExecuteProcess', 'IncludeLaunchDescription', 'TimerAction',
        'PythonLaunchDescriptionSource', 'SetEnvironmentVariable')}

    def module(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        return mod
    return {
        'launch': module('launch', LaunchDescription=classes['LaunchDescription']),
        'launch.actions': module('launch.actions', **{k: classes[k] for k in (
            'DeclareLaunchArgument', 'ExecuteProcess', 'IncludeLaunchDescription',
            'TimerAction', 'SetEnvironmentVariable')}),
        'launch.conditions': module('launch.conditions', IfCondition=IfCondition),
        'launch.substitutions': module('launch.substitutions',
                                       LaunchConfiguration=LaunchConfiguration),
        'launch.launch_description_sources': module(
            'launch.launch_description_sources',
            PythonLaunchDescriptionSource=classes['PythonLaunchDescriptionSource']),
        'launch_ros': module('launch_ros'),
        'launch_ros.actions': module('launch_ros.actions', Node=classes['Node']),
        'launch_ros.parameter_descriptions': module('launch_ros.parameter_descriptions',
                                                    ParameterValue=classes['ParameterValue']),
        'ament_index_python': module('ament_index_python'),
        'ament_index_python.packages': module(
            'ament_index_python.packages', get_package_share_directory=lambda name: str(share_dir)),
    }


def _description(name: str, monkeypatch) -> Action:
    for module_name, module in _fake_modules(ROOT).items():
        monkeypatch.setitem(sys.modules, module_name, module)
    path = ROOT / 'launch' / name
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _launch(monkeypatch, **launch_args: str) -> Launched:
    return Launched(_description('align3r.launch.py', monkeypatch), launch_args)


def _console_scripts() -> set:
    text = (ROOT / 'setup.py').read_text(encoding='utf-8')
    return set(re.findall(r"'([\w-]+) = align3r_ros\.", text))


def test_main_launch_starts_the_node_with_the_shipped_parameters(monkeypatch):
    launched = _launch(monkeypatch)
    node = launched.node()
    assert node['package'] == 'align3r_ros' and node['name'] == 'align3r'
    assert node['executable'] in _console_scripts()
    default_params, user_params, overrides = node['parameters']
    assert Path(default_params) == ROOT / 'config' / 'align3r.yaml'
    assert list(yaml.safe_load(Path(default_params).read_text())) == ['/**']  # any namespace
    assert Path(user_params) == Path(default_params)  # params_file defaults to the same file
    assert overrides == {'use_sim_time': 'false', 'autostart': 'true'}
    assert node['namespace'] == ''
    custom = _launch(monkeypatch, params_file='/tmp/mine.yaml', namespace='robot1',
                     use_sim_time='true').node()
    assert custom['parameters'][1] == '/tmp/mine.yaml' and custom['namespace'] == 'robot1'
    assert custom['parameters'][2]['use_sim_time'] == 'true'


def test_remappings_cover_exactly_the_topics_the_node_subscribes_to(monkeypatch):
    remapped = dict(_launch(monkeypatch).node()['remappings'])
    assert set(remapped) == set(topics.ALL_INPUT_TOPICS)
    assert all(remapped[t] == t for t in remapped)  # defaults: no change
    driver = dict(_launch(monkeypatch, image='/camera/color/image_raw',
                          camera_info='/camera/color/camera_info').node()['remappings'])
    assert driver[topics.IMAGE_TOPIC] == '/camera/color/image_raw'
    assert driver[topics.CAMERA_INFO_TOPIC] == '/camera/color/camera_info'


def test_large_data_profile_is_exported_by_default_and_parses(monkeypatch):
    environment = _launch(monkeypatch).environment
    profile = Path(environment['FASTDDS_DEFAULT_PROFILES_FILE'])
    assert profile == ROOT / 'config' / 'fastdds_large_data.xml'
    assert environment['FASTRTPS_DEFAULT_PROFILES_FILE'] == str(profile)  # Humble's Fast DDS
    ns = {'dds': 'http://www.eprosima.com'}
    tree = ET.parse(profile)
    sizes = [int(e.text) for e in tree.iterfind('.//dds:segment_size', ns)]
    assert sizes and min(sizes) >= 8 * 1280 * 720 * 3  # several 720p frames fit
    participant = tree.find('.//dds:participant', ns)
    assert participant.get('is_default_profile') == 'true'
    assert _launch(monkeypatch, large_data_profile='false').environment == {}


def test_bag_launch_plays_with_clock_into_the_node(monkeypatch):
    description = _description('align3r_bag.launch.py', monkeypatch)
    launched = Launched(description, {'bag': '/data/bag'})
    play = next(a for a in launched.of('TimerAction'))
    play, = play.kwargs['actions']
    cmd = launched.resolve(list(play.kwargs['cmd']))
    assert cmd[:4] == ['ros2', 'bag', 'play', '/data/bag'] and '--clock' in cmd
    include, = launched.of('IncludeLaunchDescription')
    assert Path(include.args[0].args[0]) == ROOT / 'launch' / 'align3r.launch.py'
    forwarded = launched.resolve(dict(include.kwargs['launch_arguments']))
    assert forwarded['use_sim_time'] == 'true'
    nested = Launched(_description('align3r.launch.py', monkeypatch), forwarded).node()
    assert nested['parameters'][2]['use_sim_time'] == 'true'


@pytest.mark.ros
def test_node_subscriptions_are_the_launch_remapping_sources(monkeypatch):
    """With real rclpy: the topics the active node subscribes to are the remapping sources,
    for every input configuration.

    The node's own subscription objects are read, not the ROS graph: the graph cache learns
    of new local endpoints through discovery, asynchronously, so reading it right after
    activate races (a subscription created a moment earlier can be missing)."""
    rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')
    from rclpy.parameter import Parameter

    from align3r_ros.ros.node import Align3rNode
    remapped = set(dict(_launch(monkeypatch).node()['remappings']))
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
