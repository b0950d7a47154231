"""The ROS 2 package layout: colcon sees an ament_python package and builds it."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_layout_has_every_ament_python_piece():
    for relative in ('align3r_ros/__init__.py', 'launch', 'config', 'models/README.md', 'test',
                     'package.xml', 'setup.py', 'setup.cfg', 'resource/align3r_ros',
                     'README.md'):
        assert (ROOT / relative).exists(), relative
    assert not list((ROOT / 'models').glob('*.py')), 'models/ holds weights and docs, no code'


def test_package_xml_is_format3_ament_python():
    tree = ElementTree.parse(ROOT / 'package.xml')
    root = tree.getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'align3r_ros'
    assert root.find('export').findtext('build_type') == 'ament_python'
    exec_depends = {element.text for element in root.findall('exec_depend')}
    assert {'rclpy', 'sensor_msgs', 'tf2_ros_py', 'launch_ros'} <= exec_depends
    assert 'tf2_ros' not in exec_depends  # the C++ package; Python nodes need tf2_ros_py


def test_setup_cfg_installs_scripts_where_ros2_run_looks():
    text = (ROOT / 'setup.cfg').read_text()
    assert 'script_dir=$base/lib/align3r_ros' in text
    assert 'install_scripts=$base/lib/align3r_ros' in text


@pytest.fixture(scope='module')
def colcon_workspace(tmp_path_factory):
    if shutil.which('colcon') is None:
        pytest.skip('colcon is not installed (pip install colcon-common-extensions)')
    return tmp_path_factory.mktemp('colcon')


def _colcon(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['colcon', '--log-base', str(workspace / 'log'), *args],
                          cwd=workspace, capture_output=True, text=True, timeout=600)


def test_colcon_lists_the_package_as_ros_ament_python(colcon_workspace):
    listed = _colcon(colcon_workspace, 'list', '--base-paths', str(ROOT))
    assert listed.returncode == 0, listed.stderr
    name, _path, kind = listed.stdout.strip().split('\t')
    assert (name, kind) == ('align3r_ros', '(ros.ament_python)')


def test_colcon_build_installs_node_launch_and_config(colcon_workspace):
    built = _colcon(colcon_workspace, 'build', '--base-paths', str(ROOT),
                    '--build-base', str(colcon_workspace / 'build'),
                    '--install-base', str(colcon_workspace / 'install'))
    assert built.returncode == 0, built.stdout + built.stderr
    install = colcon_workspace / 'install' / 'align3r_ros'
    assert (install / 'lib' / 'align3r_ros' / 'align3r_node').exists()
    share = install / 'share' / 'align3r_ros'
    assert (share / 'package.xml').exists()
    assert (install / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'align3r_ros').exists()
    assert sorted(p.name for p in (share / 'launch').glob('*.launch.py')) == sorted(
        p.name for p in (ROOT / 'launch').glob('*.launch.py'))
    assert (share / 'config' / 'align3r.yaml').exists() == (ROOT / 'config' /
                                                           'align3r.yaml').exists()
