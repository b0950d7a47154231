"""Loading Align3R / DUSt3R / MonST3R checkpoints into :class:`PairwisePointMapNet`.

Accepted (spec §3): the authors' ``.pth`` (``{'model': state_dict, 'args', 'optimizer',
'epoch', ...}``), plain state-dict ``.pth``, Hugging Face ``model.safetensors`` (the 8 DPT alias
keys dropped; a ``config.json`` may sit beside it), DUSt3R checkpoints without ``dec_blocks2``
(copied from ``dec_blocks``, as the official ``load_state_dict`` does), tensors in fp32, fp16 or
bf16 (cast to fp32). Constructor strings are never evaluated: the architecture and every width
and depth are inferred from tensor shapes.

Attention head counts cannot be read from shapes. They come from, in order: the ``heads``
argument; ``enc_num_heads`` / ``dec_num_heads`` in a ``config.json`` beside the file (top level
or under ``constructor_kwargs``, as in the Hugging Face release and the test fixtures); the same
``name=<int>`` pairs matched (as text, not evaluated) in ``ckpt['args'].model``; otherwise
width / 64, the head width of every official model.

Loading is strict: missing, unexpected or mis-shaped keys raise :class:`WeightsError` naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
from pathlib import Path
import re
from typing import Dict, Mapping, Optional, Tuple, Union

import torch

from align3r_ros.errors import ConfigError, WeightsError
from align3r_ros.networks.checkpoint_file import CheckpointFile, read_checkpoint_file
from align3r_ros.networks.pairwise.dpt_head import DptWidths
from align3r_ros.networks.pairwise.model import PairwisePointMapNet
from align3r_ros.networks.pairwise.spec import ALIGN3R, DUST3R, PairwiseNetSpec

_LOG = logging.getLogger(__name__)
OFFICIAL_HEAD_DIM = 64
_SIGNATURE = ('patch_embed.proj.weight', 'enc_blocks.0.attn.qkv.weight', 'decoder_embed.weight',
              'dec_blocks.0.cross_attn.projq.weight', 'downstream_head1.dpt.head.4.weight')
_POINTMAP_KEYS = ('patch_embed_point_cloud.proj.weight', 'zero_convs.0.0.weight')
_LISTED = 5


@dataclass(frozen=True)
class HeadCounts:
    """Attention heads of the encoder and of each decoder (None: use width / 64)."""

    enc: Optional[int] = None
    dec: Optional[int] = None


def strip_module_prefix(shapes: Mapping[str, object]) -> Dict[str, object]:
    """Drop a DistributedDataParallel ``module.`` prefix carried by every key."""
    if shapes and all(k.startswith('module.') for k in shapes):
        return {k[len('module.'):]: v for k, v in shapes.items()}
    return dict(shapes)


def detect_pairwise_architecture(shapes: Mapping[str, tuple]) -> Optional[str]:
    """'align3r', 'dust3r' (also MonST3R) or None, from tensor names."""
    shapes = strip_module_prefix(shapes)
    if not all(key in shapes for key in _SIGNATURE):
        return None
    return ALIGN3R if any(key in shapes for key in _POINTMAP_KEYS) else DUST3R


def head_counts_for(path: Union[str, Path], model_args: str = '',
                    metadata: Optional[Mapping[str, str]] = None) -> HeadCounts:
    """Head counts from a ``config.json`` beside ``path``, the safetensors metadata written by
    ``align3r-weights convert``, or the args string (see module docstring)."""
    config_path = Path(path).with_name('config.json')
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError) as exc:
            _LOG.warning('ignoring unreadable %s: %s', config_path, exc)
        else:
            if isinstance(config, Mapping):
                kwargs = config.get('constructor_kwargs')
                scope = kwargs if isinstance(kwargs, Mapping) else config
                enc, dec = scope.get('enc_num_heads'), scope.get('dec_num_heads')
                if isinstance(enc, int) or isinstance(dec, int):
                    return HeadCounts(enc if isinstance(enc, int) else None,
                                      dec if isinstance(dec, int) else None)
    text = model_args or ''
    for key, value in (metadata or {}).items():
        text += f' {key}={value}'
    found = {name: int(value) for name, value in
             re.findall(r'\b(enc_num_heads|dec_num_heads)\s*=\s*(\d+)', text)}
    return HeadCounts(found.get('enc_num_heads'), found.get('dec_num_heads'))


def infer_spec(shapes: Mapping[str, tuple], heads: HeadCounts = HeadCounts(),
               source: str = 'checkpoint') -> PairwiseNetSpec:
    """The network a state dict describes, from tensor shapes.

    Raises:
        WeightsError: not an Align3R / DUSt3R state dict, or inconsistent shapes.
    """
    shapes = strip_module_prefix(shapes)
    architecture = detect_pairwise_architecture(shapes)
    if architecture is None:
        raise WeightsError(f'unknown architecture: {source} is not an Align3R / DUSt3R (DPT) '
                           f'state dict (missing e.g. {_first_missing(shapes)!r})')
    try:
        enc_dim, _, patch, _ = shapes['patch_embed.proj.weight']
        dec_dim, enc_dim_in = shapes['decoder_embed.weight']
        hidden = shapes['enc_blocks.0.mlp.fc1.weight'][0]
        head = 'downstream_head1.dpt.'
        widths = DptWidths(
            feature_dim=shapes[head + 'scratch.layer1_rn.weight'][0],
            last_dim=shapes[head + 'head.2.weight'][0],
            layer_dims=tuple(shapes[f'{head}scratch.layer{i}_rn.weight'][1] for i in range(1, 5)))
    except (KeyError, ValueError, IndexError) as exc:
        raise WeightsError(f'{source}: unexpected layout of the Align3R / DUSt3R keys ({exc})') \
            from exc
    if enc_dim_in != enc_dim:
        raise WeightsError(f'{source}: decoder_embed expects width {enc_dim_in}, encoder has '
                           f'{enc_dim}')
    try:
        return _spec(architecture, shapes, heads, source, enc_dim, dec_dim, patch, hidden, widths)
    except ConfigError as exc:
        raise WeightsError(f'{source}: inconsistent network sizes ({exc})') from exc


def _spec(architecture, shapes, heads, source, enc_dim, dec_dim, patch, hidden, widths
          ) -> PairwiseNetSpec:
    return PairwiseNetSpec(
        architecture=architecture,
        enc_embed_dim=int(enc_dim), enc_depth=_count_blocks(shapes, 'enc_blocks'),
        enc_num_heads=heads.enc or _default_heads(enc_dim, 'encoder', source),
        dec_embed_dim=int(dec_dim), dec_depth=_count_blocks(shapes, 'dec_blocks'),
        dec_num_heads=heads.dec or _default_heads(dec_dim, 'decoder', source),
        patch_size=int(patch), mlp_ratio=hidden / enc_dim, dpt=widths)


def prepare_state_dict(state: Mapping[str, torch.Tensor],
                       source: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """fp32 state dict in the network's layout.

    Strips a ``module.`` prefix, copies ``dec_blocks`` to ``dec_blocks2`` when the latter is
    absent, restores the 8 DPT alias keys dropped by safetensors (and checks them when present),
    casts floating tensors to fp32.

    Raises:
        WeightsError: non-floating tensors, or alias keys that differ from their targets.
    """
    state = strip_module_prefix(state)
    if not any(k.startswith('dec_blocks2.') for k in state):
        state.update({'dec_blocks2.' + k[len('dec_blocks.'):]: v for k, v in list(state.items())
                      if k.startswith('dec_blocks.')})
    for head in ('downstream_head1', 'downstream_head2'):
        for idx in range(4):
            alias = f'{head}.dpt.scratch.layer_rn.{idx}.weight'
            target = f'{head}.dpt.scratch.layer{idx + 1}_rn.weight'
            if target not in state:
                continue
            if alias not in state:
                state[alias] = state[target]
            elif state[alias].shape != state[target].shape or not (
                    state[alias].is_meta or torch.equal(state[alias], state[target])):
                raise WeightsError(f'{source}: alias {alias} differs from {target}')
    non_float = sorted(k for k, v in state.items() if not v.is_floating_point())
    if non_float:
        raise WeightsError(f'{source}: non-floating tensors {non_float[:_LISTED]}')
    return {k: v if v.dtype == torch.float32 else v.float() for k, v in state.items()}


def check_strict(net: PairwisePointMapNet, shapes: Mapping[str, tuple],
                 source: str = 'checkpoint') -> None:
    """Raise WeightsError naming missing / unexpected / mis-shaped keys (no data needed)."""
    wanted = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    given = {k: tuple(v) for k, v in shapes.items()}
    missing = sorted(set(wanted) - set(given))
    unexpected = sorted(set(given) - set(wanted))
    misshaped = sorted(f'{k} {given[k]} != {wanted[k]}' for k in set(wanted) & set(given)
                       if given[k] != wanted[k])
    problems = []
    for label, items in (('missing', missing), ('unexpected', unexpected),
                         ('mis-shaped', misshaped)):
        if items:
            more = f' (+{len(items) - _LISTED} more)' if len(items) > _LISTED else ''
            problems.append(f"{len(items)} {label}: {', '.join(items[:_LISTED])}{more}")
    if problems:
        raise WeightsError(f'{source} does not load strictly into {net.spec.architecture}: '
                           + '; '.join(problems))


def load_pairwise_net(path: Union[str, Path], device: Union[str, torch.device] = 'cpu',
                      heads: Optional[HeadCounts] = None) -> PairwisePointMapNet:
    """Build the network a checkpoint describes and load it strictly (fp32, eval mode).

    Raises:
        WeightsError: missing / truncated / corrupt file, not a checkpoint, unknown
            architecture, or keys that do not load strictly.
    """
    ckpt = read_checkpoint_file(path)
    net, state = _net_and_state(ckpt, heads)
    net.load_state_dict(state, strict=True, assign=True)
    return net.to(device).eval()


def spec_and_check(ckpt: CheckpointFile, heads: Optional[HeadCounts] = None) -> PairwiseNetSpec:
    """Infer the spec of ``ckpt`` and check strict loadability from shapes only."""
    net, _ = _net_and_state(ckpt, heads, shapes_only=True)
    return net.spec


def _net_and_state(ckpt: CheckpointFile, heads: Optional[HeadCounts], shapes_only: bool = False
                   ) -> Tuple[PairwisePointMapNet, Optional[Dict[str, torch.Tensor]]]:
    source = str(ckpt.path)
    if heads is None:
        heads = head_counts_for(ckpt.path, ckpt.model_args, ckpt.metadata)
    spec = infer_spec(ckpt.shapes, heads, source)
    with torch.device('meta'):
        net = PairwisePointMapNet(spec)
    if shapes_only:
        meta = {k: torch.empty(s, device='meta', dtype=ckpt.dtypes[k])
                for k, s in ckpt.shapes.items()}
        state = prepare_state_dict(meta, source)
    else:
        state = prepare_state_dict(dict(ckpt.state), source)
    check_strict(net, {k: tuple(v.shape) for k, v in state.items()}, source)
    return net, None if shapes_only else state


def _count_blocks(shapes: Mapping[str, tuple], prefix: str) -> int:
    pattern = re.compile(rf'^{prefix}\.(\d+)\.')
    indices = {int(m.group(1)) for k in shapes if (m := pattern.match(k))}
    return max(indices) + 1 if indices else 0


def _default_heads(width: int, what: str, source: str) -> int:
    if width % OFFICIAL_HEAD_DIM:
        raise WeightsError(f'{source}: cannot tell the {what} head count for width {width} '
                           f'(not a multiple of {OFFICIAL_HEAD_DIM}); put a config.json with '
                           f'enc_num_heads / dec_num_heads beside the checkpoint')
    return width // OFFICIAL_HEAD_DIM


def _first_missing(shapes: Mapping[str, tuple]) -> str:
    return next((k for k in _SIGNATURE if k not in shapes), '')
