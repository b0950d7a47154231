"""ONNX export of the pairwise point-map network: a per-frame encoder and a per-pair decoder.

The split keeps the per-frame cache of :class:`PairwisePointMapNet` usable from onnxruntime:
each frame is encoded once and every pair it appears in reuses that encoding.

Graph contract (all float32; ``gh = H / 16``, ``gw = W / 16``; K = 5 injection points):

* ``encoder.onnx``: ``image`` (B, 3, H, W) in [-1, 1] and, for Align3R, ``pointmap``
  (B, H, W, 3) -> ``tokens`` (B, gh, gw, C_enc) and, for Align3R, ``injections``
  (B, K, gh, gw, C_dec) (the zero-conv outputs of the point-map branch).
* ``decoder.onnx``: ``tokens1``, [``injections1``,] ``tokens2``, [``injections2``] ->
  ``pts3d`` (B, H, W, 3), ``conf`` (B, H, W), ``pts3d_in_other_view`` (B, H, W, 3),
  ``conf_in_other_view`` (B, H, W), both point maps in view 1's camera frame.

Tokens travel on the patch grid (not flattened) so that the decoder reads H and W from its inputs'
shapes; patch positions (RoPE) are rebuilt in-graph. The batch axis, H and W are dynamic
(TorchScript-based exporter, opset 17; RoPE tables are computed in-graph, not baked for one size).
The graphs are traced at ``example_hw`` and checked against torch at that size and at its
transpose, so a traced-in constant would not go unnoticed. A graph whose weights exceed the 2 GB
protobuf limit (the full-size models: ~2.4 GB) is written with its weights in one external file
``<graph>.onnx.data`` beside it. ``pairwise_onnx.json`` records the contract (see
:class:`PairwiseOnnxInfo`).
"""

from __future__ import annotations

from dataclasses import asdict
import logging
from pathlib import Path
import tempfile
from typing import Optional, Tuple, Union
import warnings

import numpy as np
import torch
from torch import nn

from align3r_ros.errors import ConfigError
from align3r_ros.networks.pairwise.model import PairwisePointMapNet
from align3r_ros.networks.pairwise.onnx_runtime import (
    DECODER_FILE, ENCODER_FILE, PairwiseOnnxInfo, PairwiseOnnxSession, decoder_io_names,
    encoder_io_names)

_LOG = logging.getLogger(__name__)

DEFAULT_OPSET = 17
#: Initialiser bytes above which a graph is written with external data (protobuf limit 2 GiB).
EXTERNAL_DATA_THRESHOLD = 1_800_000_000


class EncoderGraph(nn.Module):
    """What ``encoder.onnx`` computes: :meth:`PairwisePointMapNet.encode` on the patch grid."""

    def __init__(self, net: PairwisePointMapNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, pointmap: Optional[torch.Tensor] = None):
        patch = self.net.spec.patch_size
        batch, grid_h, grid_w = image.shape[0], image.shape[2] // patch, image.shape[3] // patch
        enc = self.net.encode(image, pointmap)
        tokens = enc.tokens.reshape(batch, grid_h, grid_w, enc.tokens.shape[-1])
        if enc.injections is None:
            return tokens
        injections = enc.injections.reshape(batch, enc.injections.shape[1], grid_h, grid_w,
                                            enc.injections.shape[-1])
        return tokens, injections


class DecoderGraph(nn.Module):
    """What ``decoder.onnx`` computes: :meth:`PairwisePointMapNet.decode_tensors` on grids."""

    def __init__(self, net: PairwisePointMapNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, *grids: torch.Tensor):
        if self.net.needs_pointmap:
            tokens1, inj1, tokens2, inj2 = grids
            inj1, inj2 = inj1.flatten(2, 3), inj2.flatten(2, 3)
        else:
            (tokens1, tokens2), inj1, inj2 = grids, None, None
        batch, grid_h, grid_w = tokens1.shape[0], tokens1.shape[1], tokens1.shape[2]
        rows = torch.arange(grid_h, device=tokens1.device).unsqueeze(1).expand(grid_h, grid_w)
        cols = torch.arange(grid_w, device=tokens1.device).unsqueeze(0).expand(grid_h, grid_w)
        pos = torch.stack((rows, cols), dim=-1).reshape(1, -1, 2).expand(batch, -1, -1)
        patch = self.net.spec.patch_size
        out = self.net.decode_tensors(tokens1.flatten(1, 2), pos, inj1, tokens2.flatten(1, 2),
                                      pos, inj2, (grid_h * patch, grid_w * patch))
        return out.pts3d, out.conf, out.pts3d_in_other_view, out.conf_in_other_view


_AXES = {
    'image': {0: 'batch', 2: 'height', 3: 'width'},
    'pointmap': {0: 'batch', 1: 'height', 2: 'width'},
    'tokens': {0: 'batch', 1: 'grid_h', 2: 'grid_w'},
    'injections': {0: 'batch', 2: 'grid_h', 3: 'grid_w'},
    'pts3d': {0: 'batch', 1: 'height', 2: 'width'},
    'conf': {0: 'batch', 1: 'height', 2: 'width'},
}


def _dynamic_axes(names) -> dict:
    return {name: _AXES[name.rstrip('12').replace('_in_other_view', '')] for name in names}


def check_export_settings(example_hw: Tuple[int, int], opset: int = DEFAULT_OPSET,
                          patch: int = 16) -> Tuple[int, int]:
    """(H, W) as ints when exportable; ConfigError naming the value otherwise."""
    height, width = (int(s) for s in example_hw)
    if height % patch or width % patch or height < 2 * patch or width < 2 * patch:
        raise ConfigError(f'export size (H, W) = {tuple(example_hw)} must be multiples of '
                          f'{patch} and at least {2 * patch}')
    if opset < 17:
        raise ConfigError(f'opset must be >= 17 (LayerNormalization), got {opset}')
    return height, width


def export_pairwise_onnx(net: PairwisePointMapNet, out_dir: Union[str, Path],
                         example_hw: Tuple[int, int] = (288, 512), opset: int = DEFAULT_OPSET,
                         verify: bool = True) -> PairwiseOnnxInfo:
    """Write ``encoder.onnx``, ``decoder.onnx`` and ``pairwise_onnx.json`` into ``out_dir``.

    Args:
        net: the network (fp32, eval mode; traced on the device it lives on).
        out_dir: folder to create / fill.
        example_hw: (H, W) to trace at (multiples of the patch size, each >= 2 patches); the
            graphs stay dynamic in batch, H and W.
        opset: ONNX opset (>= 17).
        verify: compare onnxruntime with torch at ``example_hw`` and at its transpose.

    Returns:
        The written :class:`PairwiseOnnxInfo` (``max_rel_error`` filled when verified).

    Raises:
        ConfigError: bad ``example_hw`` or ``opset``.
    """
    spec = net.spec
    patch = spec.patch_size
    height, width = check_export_settings(example_hw, opset, patch)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    needs_pm = net.needs_pointmap
    device = next(net.parameters()).device
    generator = torch.Generator().manual_seed(0)
    # Batch 2 so that the batch axis is not traced as a broadcastable 1.
    image = torch.rand(2, 3, height, width, generator=generator) * 2 - 1
    pointmap = torch.rand(2, height, width, 3, generator=generator)
    enc_inputs = (image.to(device), pointmap.to(device)) if needs_pm else (image.to(device),)
    enc_in, enc_out = encoder_io_names(needs_pm)
    encoder = EncoderGraph(net)
    with torch.no_grad():
        enc_values = encoder(*enc_inputs)
    enc_values = enc_values if isinstance(enc_values, tuple) else (enc_values,)
    # Distinct tensors for view 1 and view 2 (the batch reversed), never the same objects.
    half = len(enc_values)
    dec_inputs = tuple(t.clone() for t in enc_values) + tuple(t.flip(0) for t in enc_values)
    if needs_pm:
        dec_inputs = (dec_inputs[0], dec_inputs[1], dec_inputs[half], dec_inputs[half + 1])
    dec_in, dec_out = decoder_io_names(needs_pm)
    _export_graph(encoder, enc_inputs, enc_in, enc_out, out_dir / ENCODER_FILE, opset)
    _export_graph(DecoderGraph(net), dec_inputs, dec_in, dec_out, out_dir / DECODER_FILE, opset)
    info = PairwiseOnnxInfo(architecture=spec.architecture, patch_size=patch,
                            enc_embed_dim=spec.enc_embed_dim, dec_embed_dim=spec.dec_embed_dim,
                            num_injections=spec.num_injections, example_hw=(height, width),
                            dynamic_size=True, opset=opset)
    if verify:
        info.write(out_dir)
        session = PairwiseOnnxSession(out_dir)
        error = max(onnx_vs_torch_error(net, session, (height, width)),
                    onnx_vs_torch_error(net, session, (width, height)))
        info = PairwiseOnnxInfo(**{**asdict(info), 'max_rel_error': error})
        _LOG.info('ONNX export verified: max relative error %.2e', error)
    info.write(out_dir)
    return info


def _export_graph(module: nn.Module, inputs: tuple, input_names, output_names, path: Path,
                  opset: int) -> None:
    """Trace ``module`` to ``path`` (external data beside it when the weights exceed 2 GB)."""
    import onnx

    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        traced_path = Path(scratch) / path.name
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')  # tracer warnings about shape-dependent Python ints
            torch.onnx.export(module, inputs, str(traced_path), dynamo=False,
                              opset_version=opset, input_names=list(input_names),
                              output_names=list(output_names), do_constant_folding=True,
                              dynamic_axes=_dynamic_axes(tuple(input_names) + output_names))
        model = onnx.load(str(traced_path))  # also loads external data the exporter wrote
    data_path = path.with_name(path.name + '.data')
    for stale in (path, data_path):
        stale.unlink(missing_ok=True)
    size = sum(len(t.raw_data) for t in model.graph.initializer)
    if size > EXTERNAL_DATA_THRESHOLD:
        onnx.save_model(model, str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=data_path.name, size_threshold=1024)
    else:
        onnx.save_model(model, str(path))


def onnx_vs_torch_error(net: PairwisePointMapNet,
                        session: Union[str, Path, PairwiseOnnxSession],
                        image_hw: Tuple[int, int], batch: int = 2, seed: int = 1) -> float:
    """max over outputs of max |onnx - torch| / max |torch| on random inputs of size image_hw.

    Args:
        net: the torch network the graphs were exported from.
        session: an open session or its export folder.

    Each view is encoded once; the decoder sees views (b, B-1-b), so pairs of distinct frames.
    """
    generator = torch.Generator().manual_seed(seed)
    height, width = image_hw
    image = torch.rand(batch, 3, height, width, generator=generator) * 2 - 1
    pointmap = torch.rand(batch, height, width, 3, generator=generator) if net.needs_pointmap \
        else None
    if not isinstance(session, PairwiseOnnxSession):
        session = PairwiseOnnxSession(session)
    tokens, inj = session.encode(image.numpy(), None if pointmap is None else pointmap.numpy())
    flip = np.arange(batch)[::-1].copy()
    got = session.decode(tokens, inj, tokens[flip], None if inj is None else inj[flip])
    device = next(net.parameters()).device
    with torch.no_grad():
        enc = net.encode(image.to(device), None if pointmap is None else pointmap.to(device))
        out = net.decode(enc, enc.select(torch.as_tensor(flip)))
    want = (out.pts3d, out.conf, out.pts3d_in_other_view, out.conf_in_other_view)
    errors = []
    for have, ref in zip(got, want):
        ref = ref.float().cpu().numpy()
        errors.append(float(np.abs(have - ref).max() / max(float(np.abs(ref).max()), 1e-12)))
    return max(errors)
