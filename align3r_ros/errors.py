"""The package's exception hierarchy.

Every error raised at a public boundary derives from :class:`Align3rError`, and its message names
the offending value, so tools can print one line and exit non-zero without a traceback.
"""

from __future__ import annotations


class Align3rError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(Align3rError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class InputError(Align3rError, ValueError):
    """An input frame, image, prior or pair is unusable (empty, wrong shape, non-finite...)."""


class ConversionError(Align3rError, ValueError):
    """A message or image could not be converted (unknown encoding, bad step, size mismatch)."""


class WeightsError(Align3rError):
    """A checkpoint is missing, truncated, corrupt, not a checkpoint or of unknown architecture."""


class BackendError(Align3rError, RuntimeError):
    """A backend (network, prior, onnxruntime) failed or is unavailable."""


class AlignmentError(Align3rError, RuntimeError):
    """Global alignment could not produce a usable solution."""


class BagError(Align3rError):
    """A rosbag could not be read or written (corrupt, truncated, missing topic)."""
