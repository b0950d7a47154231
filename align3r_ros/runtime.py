"""Process-wide runtime knobs, applied by entry points only (the node, the tools).

Library modules never change global state; the node's configure transition, ``align3r-replay``
and ``align3r-eval`` call :func:`configure_runtime` once with the config they run.
"""

from __future__ import annotations

import logging

from align3r_ros.config import RuntimeConfig

LOG = logging.getLogger(__name__)


def configure_runtime(runtime: RuntimeConfig) -> None:
    """Apply ``runtime.threads`` to torch's intra-op pool (0 leaves torch's default).

    The onnxruntime backends take the same value per session (see their constructors).
    """
    if runtime.threads <= 0:
        return
    import torch

    if torch.get_num_threads() != runtime.threads:
        torch.set_num_threads(runtime.threads)
        LOG.info('torch uses %d CPU threads', runtime.threads)
