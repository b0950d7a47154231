"""Process-wide runtime knobs, and the one place that turns ``runtime.device`` into a device.

Library modules never change global state; the node's configure transition, ``align3r-replay``
and ``align3r-eval`` call :func:`configure_runtime` once with the config they run.
:func:`resolve_device` is read-only: the alignment (``streaming/solve.py``) calls it per solve.
"""

from __future__ import annotations

import logging

from typing import TYPE_CHECKING, Union

from align3r_ros.config import Device, RuntimeConfig
from align3r_ros.errors import ConfigError

if TYPE_CHECKING:  # torch is imported lazily: config-only tools must not pay for it
    import torch

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


def resolve_device(device: Union[Device, str, 'torch.device']) -> 'torch.device':
    """The torch device ``runtime.device`` names: ``auto`` is cuda when torch sees a GPU, else
    cpu; ``cpu``, ``cuda`` and ``cuda:N`` (or a torch.device) are taken as given.

    Raises:
        ConfigError: cuda was asked for but torch sees no CUDA device, or an unknown name.
    """
    import torch

    if isinstance(device, torch.device):
        resolved = device
    elif str(device) == Device.AUTO.value:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    else:
        try:
            resolved = torch.device(str(device))
        except RuntimeError as error:
            raise ConfigError(f'runtime.device={str(device)!r} is not a device ({error})') \
                from error
    if resolved.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError(f'runtime.device={str(device)!r} but torch sees no CUDA device')
    return resolved
