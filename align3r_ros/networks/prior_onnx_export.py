"""Export the native priors (Depth Anything V2, Depth Pro) to the prior ONNX contract.

Depth Anything V2 is exported with dynamic height and width (the host applies the 518
lower-bound resize rule, so one file serves every camera); Depth Pro at its fixed 1536 x 1536
input, with the canonical inverse depth and the field of view as outputs (the host applies the
focal / resize / clamp post-processing). See :mod:`align3r_ros.networks.prior_onnx_contract`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from align3r_ros.config import PriorKind
from align3r_ros.errors import ConfigError, WeightsError
from align3r_ros.networks.depth_anything.preprocess import IMAGENET_MEAN, IMAGENET_STD
from align3r_ros.networks.prior_onnx_contract import (
    FOV_OUTPUT_NAME, INPUT_NAME, OUTPUT_NAME, PriorOnnxContract)

DEPTH_PRO_SIZE = 1536
DEFAULT_OPSET = 17


@dataclass(frozen=True)
class PriorOnnxExport:
    """What :func:`export_prior_onnx` wrote.

    Attributes:
        path: the ``.onnx`` file.
        contract: the metadata written into it.
        example_hw: (h, w) of the network input used for tracing and verification.
        max_relative_error: max |onnxruntime - torch| / max |torch| of the ``prior`` output on
            the example input, or None when not verified.
    """

    path: Path
    contract: PriorOnnxContract
    example_hw: Tuple[int, int]
    max_relative_error: Optional[float]


class _DisparityGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.model(rgb)[:, None]


class _DepthProGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        canonical_inverse_depth, fov_deg = self.model(rgb)
        return canonical_inverse_depth, fov_deg.reshape(-1)


def _family(model_name: str) -> str:
    name = model_name.lower()
    if name == 'depth_pro':
        return 'depth_pro'
    if name.startswith('depth_anything_v2') or name in ('vits', 'vitb', 'vitl'):
        return 'depth_anything_v2'
    raise ConfigError(f'unknown prior model {model_name!r}; expected depth_pro, '
                      'depth_anything_v2 or depth_anything_v2_vit{s,b,l}')


def _load(family: str, model_name: str, weights: Union[str, Path]) -> nn.Module:
    if family == 'depth_pro':
        from align3r_ros.networks.depth_pro import load_depth_pro

        return load_depth_pro(weights)
    from align3r_ros.networks.depth_anything.checkpoint import load_depth_anything_v2

    variant = None if model_name.lower() == 'depth_anything_v2' else model_name
    return load_depth_anything_v2(weights, config=variant)


def contract_for(family: str, model: nn.Module,
                 input_size: Optional[int] = None) -> PriorOnnxContract:
    """The metadata describing an exported native prior (``input_size``: DAv2 lower bound)."""
    if family == 'depth_pro':
        return PriorOnnxContract(
            prior_kind=PriorKind.METRIC_DEPTH, output_encoding='canonical_inverse_depth',
            resize='fixed', input_hw=(DEPTH_PRO_SIZE, DEPTH_PRO_SIZE),
            input_interpolation='linear', mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
            output_align_corners=False, model='depth_pro')
    cfg = model.cfg
    return PriorOnnxContract(
        prior_kind=PriorKind.DISPARITY, output_encoding='direct', resize='lower_bound',
        input_size=cfg.input_size if input_size is None else int(input_size),
        multiple_of=cfg.patch_size, input_interpolation='cubic',
        mean=IMAGENET_MEAN, std=IMAGENET_STD, output_align_corners=True, model=cfg.name)


def _write_metadata(path: Path, contract: PriorOnnxContract) -> None:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, contract.to_metadata())
    onnx.save(proto, str(path))


def _verify(path: Path, graph: nn.Module, example: torch.Tensor) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: example.numpy()})[0]
    with torch.inference_mode():
        out = graph(example)
    want = (out[0] if isinstance(out, tuple) else out).float().numpy()
    return float(np.abs(got - want).max() / max(float(np.abs(want).max()), 1e-12))


def export_prior_onnx(model_name: str, weights_or_module: Union[str, Path, nn.Module],
                      out_path: Union[str, Path], *,
                      example_hw: Optional[Tuple[int, int]] = None,
                      input_size: Optional[int] = None,
                      opset: int = DEFAULT_OPSET, verify: bool = True) -> PriorOnnxExport:
    """Export a native prior to an ONNX file that follows the prior ONNX contract.

    Args:
        model_name: 'depth_pro', 'depth_anything_v2' (variant detected from the weights) or
            'depth_anything_v2_vit{s,b,l}'.
        weights_or_module: a checkpoint path (loaded strictly) or an already built module
            (``DepthAnythingV2Net`` / ``DepthPro``, e.g. a tiny fixture model).
        out_path: the ``.onnx`` file to write (a >2 GB model gets external data beside it).
        example_hw: tracing size for Depth Anything V2 (multiples of 14; default 518 x 686,
            a 4:3 frame); Depth Pro always traces at 1536 x 1536.
        input_size: Depth Anything V2 lower bound written to the metadata (default the
            model's, 518).
        opset: ONNX opset (>= 17 for LayerNormalization; Depth Pro uses >= 18).
        verify: run onnxruntime on the example input and report the error against torch.

    Raises:
        ConfigError: unknown model name or a bad example size.
        WeightsError: unreadable / mismatching checkpoint.
    """
    family = _family(model_name)
    model = weights_or_module if isinstance(weights_or_module, nn.Module) \
        else _load(family, model_name, weights_or_module)
    model = model.float().cpu().eval()
    contract = contract_for(family, model, input_size)
    if family == 'depth_pro':
        graph: nn.Module = _DepthProGraph(model)
        hw = (DEPTH_PRO_SIZE, DEPTH_PRO_SIZE)
        outputs = [OUTPUT_NAME, FOV_OUTPUT_NAME]
        dynamic_axes = None
    else:
        graph = _DisparityGraph(model)
        hw = tuple(example_hw) if example_hw is not None else (518, 686)
        patch = model.cfg.patch_size
        if hw[0] % patch or hw[1] % patch or min(hw) < patch:
            raise ConfigError(f'example_hw {hw} must be positive multiples of {patch}')
        outputs = [OUTPUT_NAME]
        dynamic_axes = {INPUT_NAME: {2: 'height', 3: 'width'},
                        OUTPUT_NAME: {2: 'height', 3: 'width'}}
    example = torch.randn((1, 3) + tuple(hw), generator=torch.Generator().manual_seed(0))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter('ignore')  # exporter deprecation / tracer notes: not actionable
        try:
            if family == 'depth_pro':
                # Static 1536 x 1536 graph through torch.export (the TorchScript tracer turns
                # shapes into tensors, which the Depth Pro token-grid code does not accept);
                # onnxscript's graph optimiser is skipped: it takes many minutes on the
                # 35-window pyramid and onnxruntime optimises the graph at load anyway.
                torch.onnx.export(graph, (example,), str(out_path), input_names=[INPUT_NAME],
                                  output_names=outputs, opset_version=max(opset, 18),
                                  dynamo=True, optimize=False, external_data=True)
            else:
                # The TorchScript exporter keeps height and width dynamic in seconds; the
                # dynamo exporter needs minutes for the same graph.
                torch.onnx.export(graph, (example,), str(out_path), input_names=[INPUT_NAME],
                                  output_names=outputs, dynamic_axes=dynamic_axes,
                                  opset_version=opset, dynamo=False, do_constant_folding=True)
        except Exception as exc:  # noqa: BLE001 - exporter errors are not typed
            raise WeightsError(f'ONNX export of {model_name!r} failed: {exc}') from exc
    _write_metadata(out_path, contract)
    error = _verify(out_path, graph, example) if verify else None
    return PriorOnnxExport(path=out_path, contract=contract, example_hw=(hw[0], hw[1]),
                           max_relative_error=error)
