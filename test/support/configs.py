"""Oracle engine configs for small synthetic frames (clip mode and live mode)."""

from __future__ import annotations

from align3r_ros.config import Align3rConfig
from align3r_ros.config_io import load_config


def oracle_config(**groups) -> Align3rConfig:
    """Oracle engine config for small synthetic frames (48x64 in, 48x64 network).

    Temporal smoothing is off unless asked for: the fast solver then needs no Adam polish,
    which keeps each test solve around a second on a loaded 2-core machine. Clip mode unless
    ``stream`` says otherwise: these tests pin the clip scheme's behaviour (live mode, the
    default, has its own tests in test/live).
    """
    base = {'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64},
            'align': {'temporal_weight': 0.0}, 'stream': {'mode': 'clip'}}
    for name, values in groups.items():
        base[name] = {**base.get(name, {}), **values}
    return load_config(base)


def live_config(**groups) -> Align3rConfig:
    """Oracle config (48x64) in live mode (``stream`` overrides merge with the mode)."""
    groups['stream'] = {'mode': 'live', **groups.get('stream', {})}
    return oracle_config(**groups)
