"""config/align3r.yaml is generated from the config dataclasses; fail when it drifts."""

from __future__ import annotations

from pathlib import Path

import yaml

from align3r_ros import config_io
from align3r_ros.config import Align3rConfig
from align3r_ros.config_io import load_config
from align3r_ros.tools import config_tool

YAML_PATH = Path(__file__).resolve().parents[1] / 'config' / 'align3r.yaml'
#: The command that regenerates the committed file (it exists: replacing it needs --force).
REGENERATE = ('yaml', '-o', 'config/align3r.yaml', '--force')


def test_committed_yaml_matches_generator():
    assert YAML_PATH.read_text(encoding='utf-8') == config_io.render_ros_yaml(), (
        'config/align3r.yaml drifted from align3r_ros/config.py: run '
        f'`align3r-config {" ".join(REGENERATE)}`')


def test_the_regenerate_hint_replaces_an_existing_file(tmp_path):
    out = tmp_path / 'align3r.yaml'
    out.write_text('# an old, drifted file\n', encoding='utf-8')
    args = [str(out) if arg == 'config/align3r.yaml' else arg for arg in REGENERATE]
    assert config_tool.main(args) == 0
    assert out.read_text(encoding='utf-8') == config_io.render_ros_yaml()


def test_yaml_is_a_ros_parameter_file_holding_every_default():
    document = yaml.safe_load(YAML_PATH.read_text(encoding='utf-8'))
    assert list(document) == ['/**']  # any namespace, any node name
    params = document['/**']['ros__parameters']
    flat = config_io.flatten_mapping(params)
    assert set(flat) == {spec.name for spec in config_io.param_specs()}
    assert load_config(str(YAML_PATH)) == Align3rConfig()


def test_config_tool_writes_the_same_text(tmp_path, capsys):
    out = tmp_path / 'align3r.yaml'
    assert config_tool.main(['yaml', '-o', str(out)]) == 0
    assert out.read_text(encoding='utf-8') == config_io.render_ros_yaml()
    assert config_tool.main(['table']) == 0
    table = capsys.readouterr().out
    assert '| `clip.length` | `10` |' in table
    assert table.count('\n') == len(config_io.param_specs()) + 2
