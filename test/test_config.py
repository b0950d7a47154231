"""load_config and config_io: YAML, nested/dotted mappings, validation, CLI flags."""

from __future__ import annotations

import argparse

import pytest

from align3r_ros import config_io
from align3r_ros.config import Align3rConfig, GraphKind, PairwiseBackendKind, TfMode
from align3r_ros.config_io import load_config
from align3r_ros.errors import ConfigError


def test_defaults_validate():
    assert load_config() == Align3rConfig()


def test_ros_parameter_yaml_with_nested_and_dotted_keys(tmp_path):
    path = tmp_path / 'params.yaml'
    path.write_text(
        '/**:\n'
        '  ros__parameters:\n'
        '    use_sim_time: true\n'
        '    autostart: false\n'
        '    clip:\n'
        '      length: 6\n'
        '    frames.tf_mode: rep105\n'
        '    output: {point_stride: 4}\n', encoding='utf-8')
    config = load_config(str(path))
    assert config.clip.length == 6 and config.output.point_stride == 4
    assert config.frames.tf_mode is TfMode.REP105


def test_plain_yaml_mapping(tmp_path):
    path = tmp_path / 'plain.yaml'
    path.write_text('graph:\n  kind: complete\n  window: 3\n', encoding='utf-8')
    config = load_config(path)
    assert config.graph.kind is GraphKind.COMPLETE and config.graph.window == 3


def test_nested_and_flat_mappings_agree():
    nested = load_config({'align': {'iterations': 50}, 'pairwise': {'backend': 'oracle'}})
    flat = load_config({'align.iterations': 50, 'pairwise.backend': 'oracle'})
    assert nested == flat and nested.pairwise.backend is PairwiseBackendKind.ORACLE


@pytest.mark.parametrize('overrides,needle', [
    ({'clip.length': 1}, 'clip.length: 1 is below its minimum 2'),
    ({'clip.length': 'ten'}, "clip.length: 'ten'"),
    ({'clip.length': 2.5}, 'clip.length'),
    ({'output.point_stride': 65}, 'above its maximum 64'),
    ({'frames.tf_mode': 'map'}, 'one of direct, rep105, none'),
    ({'graph.cyclic': 'maybe'}, 'graph.cyclic'),
    ({'align.lr': float('nan')}, 'not finite'),
    ({'clip.lenght': 5}, 'unknown parameter(s): clip.lenght'),
    ({'align.lr': 0.001, 'align.lr_min': 0.01}, 'align.lr_min'),
    ({'prior.model': 'vitg'}, "prior.model: 'vitg'"),
])
def test_bad_values_raise_naming_them(overrides, needle):
    with pytest.raises(ConfigError) as info:
        load_config(overrides)
    assert needle in str(info.value)


def test_missing_and_broken_files_raise(tmp_path):
    with pytest.raises(ConfigError, match='not found'):
        load_config(str(tmp_path / 'nope.yaml'))
    broken = tmp_path / 'broken.yaml'
    broken.write_text('clip: [1, 2\n', encoding='utf-8')
    with pytest.raises(ConfigError, match='not valid YAML'):
        load_config(str(broken))


def test_cli_flags_round_trip(tmp_path):
    parser = argparse.ArgumentParser()
    config_io.add_config_arguments(parser)
    args = parser.parse_args(['--clip-length', '7', '--frames-tf-mode', 'none',
                              '--output-organized-cloud', 'false', '--align-lr', '0.02'])
    config = config_io.config_from_args(args)
    assert config.clip.length == 7 and config.frames.tf_mode is TfMode.NONE
    assert config.output.organized_cloud is False and config.align.lr == 0.02
    # flags override the file; fields not given keep the file's value
    path = tmp_path / 'c.yaml'
    path.write_text('clip:\n  length: 4\n  keyframe_window: 3\n', encoding='utf-8')
    config = config_io.config_from_args(parser.parse_args(['--clip-length', '9']), str(path))
    assert (config.clip.length, config.clip.keyframe_window) == (9, 3)
    # every flag of a default config reproduces that config
    flat = config_io.config_to_flat(Align3rConfig())
    argv = []
    for name, value in flat.items():
        argv += ['--' + name.replace('.', '-').replace('_', '-'), str(value).lower()
                 if isinstance(value, bool) else str(value)]
    assert config_io.config_from_args(parser.parse_args(argv)) == Align3rConfig()


def test_group_filter_and_choices():
    parser = argparse.ArgumentParser()
    config_io.add_config_arguments(parser, groups=['frames'])
    with pytest.raises(SystemExit):
        parser.parse_args(['--clip-length', '3'])
    with pytest.raises(SystemExit):
        parser.parse_args(['--frames-tf-mode', 'bogus'])


def test_runtime_params_are_the_output_toggles():
    names = {spec.name for spec in config_io.iter_runtime_params()}
    assert names and all(name.startswith('output.') for name in names)
    assert 'output.qos_depth' not in names and 'output.conf_threshold' in names
