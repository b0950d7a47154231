"""The launch files parse, and name an existing executable, parameter file and the node's topics.

``launch`` / ``launch_ros`` / ``ament_index_python`` are stubbed (recording constructor
arguments) for the import only; no ROS is needed.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))


class Recorded:
    """Any launch object: keeps its positional and keyword arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __repr__(self):
        return f'{type(self).__name__}{self.args}{self.kwargs}'


def _stub_modules(share_dir: Path) -> dict:
    classes = {name: type(name, (Recorded,), {}) for name in (
        'LaunchDescription', 'DeclareLaunchArgument', 'LaunchConfiguration', 'Node',
        'ParameterValue', 'ExecuteProcess', 'IncludeLaunchDescription', 'TimerAction',
        'PythonLaunchDescriptionSource')}

    def module(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        return mod
    return {
        'launch': module('launch', LaunchDescription=classes['LaunchDescription']),
        'launch.actions': module('launch.actions', **{k: classes[k] for k in (
            'DeclareLaunchArgument', 'ExecuteProcess', 'IncludeLaunchDescription',
            'TimerAction')}),
        'launch.substitutions': module('launch.substitutions',
                                       LaunchConfiguration=classes['LaunchConfiguration']),
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


def _load(path: Path, monkeypatch):
    for name, module in _stub_modules(ROOT).items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _walk(obj):
    yield obj
    if isinstance(obj, Recorded):
        for value in list(obj.args) + list(obj.kwargs.values()):
            yield from _walk(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _walk(value)
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _walk(value)
    elif isinstance(obj, type({}.items())):
        for value in obj:
            yield from _walk(value)


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_parses(path):
    ast.parse(path.read_text(encoding='utf-8'))


def _console_scripts() -> set:
    text = (ROOT / 'setup.py').read_text(encoding='utf-8')
    return set(re.findall(r"'([\w-]+) = align3r_ros\.", text))


def test_main_launch_names_executable_params_and_topics(monkeypatch):
    description = _load(ROOT / 'launch' / 'align3r.launch.py', monkeypatch)
    node = next(o for o in _walk(description) if type(o).__name__ == 'Node')
    assert node.kwargs['package'] == 'align3r_ros' and node.kwargs['name'] == 'align3r'
    assert node.kwargs['executable'] in _console_scripts()
    default_params, user_params, overrides = node.kwargs['parameters']
    assert Path(default_params) == ROOT / 'config' / 'align3r.yaml'
    assert Path(default_params).is_file()
    assert user_params.args == ('params_file',)
    assert set(overrides) == {'use_sim_time', 'autostart'}
    remapped = {source for source, _ in node.kwargs['remappings']}
    assert remapped == {'image', 'image/compressed', 'camera_info', 'prior/depth'}
    declared = {o.args[0] for o in _walk(description)
                if type(o).__name__ == 'DeclareLaunchArgument'}
    used = {o.args[0] for o in _walk(description) if type(o).__name__ == 'LaunchConfiguration'}
    assert used <= declared
    assert {'namespace', 'params_file', 'use_sim_time', 'log_level'} <= declared


def test_node_subscribes_to_the_remapped_topics():
    source = (ROOT / 'align3r_ros' / 'ros' / 'inputs.py').read_text(encoding='utf-8')
    for topic in ('image', 'image/compressed', 'camera_info', 'prior/depth'):
        assert f"'{topic}'" in source


def test_bag_launch_plays_with_clock_into_the_node(monkeypatch):
    description = _load(ROOT / 'launch' / 'align3r_bag.launch.py', monkeypatch)
    play = next(o for o in _walk(description) if type(o).__name__ == 'ExecuteProcess')
    cmd = [c if isinstance(c, str) else c.args[0] for c in play.kwargs['cmd']]
    assert cmd[:3] == ['ros2', 'bag', 'play'] and '--clock' in cmd
    include = next(o for o in _walk(description)
                   if type(o).__name__ == 'IncludeLaunchDescription')
    launched = Path(include.args[0].args[0])
    assert launched == ROOT / 'launch' / 'align3r.launch.py' and launched.is_file()
    assert dict(include.kwargs['launch_arguments'])['use_sim_time'] == 'true'
