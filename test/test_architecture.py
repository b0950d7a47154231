"""The import direction of STYLE.md, enforced by walking the AST (stdlib only)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'align3r_ros'
ROS_MODULES = ('rclpy', 'sensor_msgs', 'geometry_msgs', 'nav_msgs', 'tf2_ros', 'tf2_msgs',
               'std_msgs', 'diagnostic_msgs', 'builtin_interfaces', 'cv_bridge',
               'message_filters', 'lifecycle_msgs', 'rcl_interfaces', 'launch', 'launch_ros')


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _package_files(subdir: str = ''):
    return sorted((PACKAGE / subdir).rglob('*.py'))


def test_only_the_ros_layer_imports_ros():
    offenders = []
    for path in _package_files():
        if (PACKAGE / 'ros') in path.parents:
            continue
        for name in _imports(path):
            if name.split('.')[0] in ROS_MODULES:
                offenders.append(f'{path.relative_to(PACKAGE)}: {name}')
    assert not offenders, offenders


def test_networks_and_align_never_import_each_other():
    offenders = []
    for source, forbidden in (('networks', 'align3r_ros.align'),
                              ('align', 'align3r_ros.networks')):
        for path in _package_files(source):
            offenders += [f'{path.relative_to(PACKAGE)}: {name}' for name in _imports(path)
                          if name == forbidden or name.startswith(forbidden + '.')]
    assert not offenders, offenders


def test_bag_never_imports_the_ros_layer():
    offenders = [f'{path.relative_to(PACKAGE)}: {name}' for path in _package_files('bag')
                 for name in _imports(path) if name.startswith('align3r_ros.ros')]
    assert not offenders, offenders


def test_config_is_standard_library_only():
    allowed = {'align3r_ros', 'align3r_ros.errors', 'align3r_ros.config', '__future__',
               'yaml'}  # config_io reads YAML lazily, inside config_from_yaml_file only
    third_party = [name for module in ('config.py', 'config_io.py')
                   for name in _imports(PACKAGE / module)
                   if name not in allowed and name.split('.')[0] not in sys.stdlib_module_names]
    assert not third_party, third_party


def test_importing_the_engine_pulls_in_no_ros():
    code = ('import sys, importlib\n'
            'import align3r_ros.config, align3r_ros.structures\n'
            'try:\n    importlib.import_module("align3r_ros.engine")\n'
            'except ModuleNotFoundError as exc:\n'
            '    if "align3r_ros.engine" not in str(exc): raise\n'
            'bad = [m for m in sys.modules if m.split(".")[0] in %r]\n'
            'assert not bad, bad\n' % (ROS_MODULES,))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr


def test_no_unsafe_deserialisation_in_the_package():
    offenders = []
    for path in _package_files():
        text = path.read_text(encoding='utf-8')
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if 'torch.load(' in stripped and 'weights_only=True' not in stripped:
                offenders.append(f'{path.relative_to(PACKAGE)}:{number}')
            if stripped.startswith(('import pickle', 'from pickle')) or 'eval(' in stripped \
                    and 'model.eval(' not in stripped and '.eval()' not in stripped:
                offenders.append(f'{path.relative_to(PACKAGE)}:{number}: {stripped}')
    assert not offenders, offenders
