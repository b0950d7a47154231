"""Backends behind the engine: pairwise point maps (torch, onnxruntime, oracle) and priors.

The protocols live in :mod:`align3r_ros.backends.base`; concrete backends import their heavy
dependencies (torch, onnxruntime) lazily, and :mod:`align3r_ros.backends.factory` builds them
from the config.
"""
