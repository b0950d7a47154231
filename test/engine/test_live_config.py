"""The live.* parameter group: old stream.* names are refused with the new name, from a
parameter mapping and from the command line; tracking's own thresholds start at the values it
used to borrow."""

from __future__ import annotations

import argparse

import pytest

from align3r_ros import config_io
from align3r_ros.config import MOVED_PARAMS, Align3rConfig
from align3r_ros.errors import ConfigError


def test_every_old_name_is_refused_with_its_new_name():
    assert len(MOVED_PARAMS) == 9
    for old, new in MOVED_PARAMS.items():
        assert new in {spec.name for spec in config_io.param_specs()}
        with pytest.raises(ConfigError, match=rf'^renamed parameter\(s\): {old} \(now {new}\)$'):
            config_io.load_config({old.split('.')[0]: {old.split('.')[1]: 3}})
    assert config_io.load_config({'live': {'window': 3}}).live.window == 3


def test_old_command_line_flags_are_refused_with_the_new_name():
    parser = argparse.ArgumentParser()
    config_io.add_config_arguments(parser)
    args = parser.parse_args(['--stream-lost-inliers', '0.5'])
    with pytest.raises(ConfigError, match=r'stream.lost_inliers \(now live.lost_inliers\)'):
        config_io.config_from_args(args)
    assert config_io.config_from_args(
        parser.parse_args(['--live-lost-inliers', '0.5'])).live.lost_inliers == 0.5
    assert '--stream-lost-inliers' not in parser.format_help()


def test_tracking_thresholds_default_to_the_values_they_used_to_borrow():
    config = Align3rConfig()
    assert config.live.inlier_threshold == config.dynamic.threshold
    assert config.live.min_pixels == config.scale.min_pixels
    # stream.* only chooses the mode; the live knobs are live.*
    assert [s.name for s in config_io.param_specs() if s.name.startswith('stream.')] == \
        ['stream.mode']
