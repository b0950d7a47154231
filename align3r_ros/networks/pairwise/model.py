"""The pairwise point-map network of Align3R (CVPR 2025) and DUSt3R, one class for both.

API (also what the ONNX export wraps; every tensor fp32 on the net's device):

* ``net = build_pairwise_net(config)`` (:mod:`.build`) or ``load_pairwise_net(path)``
  (:mod:`.checkpoint`); ``net.spec`` is a :class:`PairwiseNetSpec`; ``net.needs_pointmap``.
* ``net.encode(img, pointmap=None) -> FrameEncoding``
    img (B, 3, H, W) normalised to [-1, 1], H and W multiples of 16; pointmap (B, H, W, 3) the
    normalised monocular point map (required for Align3R, ignored for DUSt3R).
    FrameEncoding fields: ``tokens`` (B, N, C_enc) after enc_norm, ``pos`` (B, N, 2) int64
    (row, col), ``injections`` (B, K=5, N, C_dec) zero-conv outputs or None (DUSt3R),
    ``image_hw`` (H, W) ints. N = (H/16)(W/16). Encodings batch with ``FrameEncoding.concat`` /
    ``.select(indices)``.
* ``net.decode(enc1, enc2) -> PairwiseOutput`` for B pairs (enc1[b], enc2[b]).
  ``net.decode_tensors(tokens1, pos1, inj1, tokens2, pos2, inj2, image_hw)`` is the same on bare
  tensors (inj None for DUSt3R), returning a PairwiseOutput.
* ``net(img1, img2, pointmap1=None, pointmap2=None) -> PairwiseOutput`` == encode + decode.
* PairwiseOutput: ``pts3d`` (B, H, W, 3), ``conf`` (B, H, W), ``pts3d_in_other_view``
  (B, H, W, 3), ``conf_in_other_view`` (B, H, W); both point maps in view 1's camera frame
  (x right, y down, z forward, arbitrary units); confidences >= 1.
* Export: under tracing (``torch.onnx.export(..., dynamo=False)``; checked with dynamic
  batch / H / W axes, traced on a landscape pair and run on a portrait pair in onnxruntime),
  RoPE tables are computed from ``pos`` in-graph, the DPT crop stays dynamic and expm1 becomes
  exp - 1. Wrap ``encode`` -> (tokens, pos, injections) and ``decode_tensors`` with
  ``image_hw`` taken from a tensor's ``.shape`` (e.g. the image); trace under ``no_grad``, not
  ``inference_mode``.

Structure (spec §1.2-1.3): shared ViT encoder (RoPE100), ``decoder_embed``, two CroCo decoders
(``dec_blocks`` for view 1, ``dec_blocks2`` for view 2) that cross-attend to each other's previous
layer, DPT heads on [encoder output, decoder layers 6, 9, 12] run in fp32 with autocast off.
Align3R adds ``patch_embed_point_cloud`` + ``dec_blocks_pc`` (4 ViT blocks, per view, no cross
attention) and 5 ``zero_convs`` whose outputs are added to both decoders' tokens at the decoder
input and after decoder layers 1-4. The point-map branch depends only on the frame, so it runs
in :meth:`encode`. Parameter names equal the official state dict, including the 8 DPT alias
keys ``downstream_head{1,2}.dpt.scratch.layer_rn.{0..3}.weight`` and the unused ``mask_token``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import nn

from align3r_ros.errors import InputError
from align3r_ros.networks.pairwise.blocks import Block, DecoderBlock, layer_norm
from align3r_ros.networks.pairwise.dpt_head import DptHead
from align3r_ros.networks.pairwise.encoding import FrameEncoding
from align3r_ros.networks.pairwise.patch_embed import PatchEmbed
from align3r_ros.networks.pairwise.postprocess import raw_to_points_and_confidence
from align3r_ros.networks.pairwise.rope import RotaryEmbedding2D
from align3r_ros.networks.pairwise.spec import PairwiseNetSpec
from align3r_ros.networks.pairwise.tracing import is_tracing
from align3r_ros.networks.pairwise.validation import check_images, check_pointmap, check_same_size

__all__ = ['FrameEncoding', 'PairwiseOutput', 'PairwisePointMapNet']


@dataclass(frozen=True)
class PairwiseOutput:
    """Point maps of B image pairs, both in view 1's camera frame.

    Attributes:
        pts3d: (B, H, W, 3) view-1 points, view-1 camera frame, arbitrary (pair-specific) units.
        conf: (B, H, W) confidence of ``pts3d`` (>= 1).
        pts3d_in_other_view: (B, H, W, 3) view-2 pixels' points in view 1's camera frame.
        conf_in_other_view: (B, H, W) confidence of ``pts3d_in_other_view`` (>= 1).
    """

    pts3d: torch.Tensor
    conf: torch.Tensor
    pts3d_in_other_view: torch.Tensor
    conf_in_other_view: torch.Tensor


class PairwisePointMapNet(nn.Module):
    """Align3R / DUSt3R two-view network (official class ``AsymmetricCroCo3DStereo``)."""

    def __init__(self, spec: PairwiseNetSpec) -> None:
        super().__init__()
        self.spec = spec
        enc, dec = spec.enc_embed_dim, spec.dec_embed_dim
        self.patch_embed = PatchEmbed(enc, spec.patch_size)
        if spec.has_pointmap_branch:
            self.patch_embed_point_cloud = PatchEmbed(dec, spec.patch_size)
        # Unused at inference (CroCo pre-training), kept for state-dict compatibility.
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec))
        self.enc_blocks = nn.ModuleList(
            [Block(enc, spec.enc_num_heads, spec.mlp_ratio) for _ in range(spec.enc_depth)])
        self.enc_norm = layer_norm(enc)
        if spec.has_pointmap_branch:
            self.dec_blocks_pc = nn.ModuleList([Block(dec, spec.dec_num_heads, spec.mlp_ratio)
                                                for _ in range(spec.num_pointmap_blocks)])
        self.decoder_embed = nn.Linear(enc, dec)
        self.dec_blocks = nn.ModuleList([DecoderBlock(dec, spec.dec_num_heads, spec.mlp_ratio)
                                         for _ in range(spec.dec_depth)])
        self.dec_blocks2 = nn.ModuleList([DecoderBlock(dec, spec.dec_num_heads, spec.mlp_ratio)
                                          for _ in range(spec.dec_depth)])
        self.dec_norm = layer_norm(dec)
        self.downstream_head1 = DptHead(spec.dpt_hooks, spec.dpt_dim_tokens, spec.dpt,
                                        patch_size=spec.patch_size)
        self.downstream_head2 = DptHead(spec.dpt_hooks, spec.dpt_dim_tokens, spec.dpt,
                                        patch_size=spec.patch_size)
        if spec.has_pointmap_branch:
            # Conv1d(k=1) == a per-token linear map; zero-initialised as in the official code.
            self.zero_convs = nn.ModuleList(
                [nn.Sequential(nn.Conv1d(dec, dec, 1)) for _ in range(spec.num_injections)])
            for zero_conv in self.zero_convs:
                nn.init.zeros_(zero_conv[0].weight)
                nn.init.zeros_(zero_conv[0].bias)
        self._rope = RotaryEmbedding2D(spec.rope_base)

    @property
    def needs_pointmap(self) -> bool:
        """True for Align3R (encode needs the prior's point map)."""
        return self.spec.has_pointmap_branch

    def _apply(self, fn, *args, **kwargs):
        self._rope.clear()  # cached tables live on the old device
        return super()._apply(fn, *args, **kwargs)

    # ---------------------------------------------------------------- encoding (per frame)

    def encode(self, img: torch.Tensor, pointmap: Optional[torch.Tensor] = None) -> FrameEncoding:
        """Encode frames once; the result is reused by every pair they appear in.

        Args:
            img: (B, 3, H, W) RGB normalised to [-1, 1]; H, W multiples of 16.
            pointmap: (B, H, W, 3) normalised monocular point map (Align3R; ignored by DUSt3R).

        Raises:
            InputError: bad image shape, missing or non-finite point map.
        """
        patch = self.spec.patch_size
        if not is_tracing():
            bhw = check_images(img, 'img', patch)
            if self.needs_pointmap:
                check_pointmap(pointmap, 'pointmap', bhw)
        image_hw = (int(img.shape[2]), int(img.shape[3]))
        grid_hw = (image_hw[0] // patch, image_hw[1] // patch)
        tokens, pos = self.patch_embed(img)
        rope = self._rope.tables(pos, grid_hw, self.spec.enc_embed_dim // self.spec.enc_num_heads)
        for block in self.enc_blocks:
            tokens = block(tokens, rope)
        tokens = self.enc_norm(tokens)
        injections = None
        if self.needs_pointmap:
            injections = self._encode_pointmap(pointmap.to(img.dtype).permute(0, 3, 1, 2),
                                               grid_hw)
        return FrameEncoding(tokens=tokens, pos=pos, injections=injections, image_hw=image_hw)

    def _encode_pointmap(self, pointmap_bchw: torch.Tensor,
                         grid_hw: Tuple[int, int]) -> torch.Tensor:
        """(B, 3, H, W) point map -> (B, K, N, C_dec) zero-conv contributions."""
        tokens, pos = self.patch_embed_point_cloud(pointmap_bchw)
        rope = self._rope.tables(pos, grid_hw, self.spec.dec_embed_dim // self.spec.dec_num_heads)
        contributions = [self._zero_conv(0, tokens)]
        for k, block in enumerate(self.dec_blocks_pc, start=1):
            tokens = block(tokens, rope)
            contributions.append(self._zero_conv(k, tokens))
        return torch.stack(contributions, dim=1)

    def _zero_conv(self, k: int, tokens: torch.Tensor) -> torch.Tensor:
        conv = self.zero_convs[k][0]
        return nn.functional.linear(tokens, conv.weight[:, :, 0], conv.bias)

    # ---------------------------------------------------------------- decoding (per pair)

    def decode(self, enc1: FrameEncoding, enc2: FrameEncoding) -> PairwiseOutput:
        """Decode B pairs (enc1[b] = view 1, enc2[b] = view 2).

        Raises:
            InputError: the two encodings differ in image size or batch, or lack injections.
        """
        if not is_tracing():
            check_same_size((enc1.batch_size, *enc1.image_hw),
                            (enc2.batch_size, *enc2.image_hw), 'encodings of the pair')
            if self.needs_pointmap and (enc1.injections is None or enc2.injections is None):
                raise InputError('Align3R decode needs encodings made with a point map '
                                 '(FrameEncoding.injections is None)')
        return self.decode_tensors(enc1.tokens, enc1.pos, enc1.injections,
                                   enc2.tokens, enc2.pos, enc2.injections, enc1.image_hw)

    def decode_tensors(self, tokens1: torch.Tensor, pos1: torch.Tensor,
                       inj1: Optional[torch.Tensor], tokens2: torch.Tensor, pos2: torch.Tensor,
                       inj2: Optional[torch.Tensor], image_hw: Tuple[int, int]) -> PairwiseOutput:
        """:meth:`decode` on bare tensors (shapes as in :class:`FrameEncoding`)."""
        layers1, layers2 = self._decoder_layers(tokens1, pos1, inj1, tokens2, pos2, inj2,
                                                image_hw)
        with torch.autocast(device_type=tokens1.device.type, enabled=False):
            raw1 = self.downstream_head1([t.float() for t in layers1], image_hw)
            raw2 = self.downstream_head2([t.float() for t in layers2], image_hw)
        pts1, conf1 = raw_to_points_and_confidence(raw1)
        pts2, conf2 = raw_to_points_and_confidence(raw2)
        return PairwiseOutput(pts3d=pts1, conf=conf1, pts3d_in_other_view=pts2,
                              conf_in_other_view=conf2)

    def _decoder_layers(self, tokens1, pos1, inj1, tokens2, pos2, inj2,
                        image_hw) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """The token lists read by the heads: [encoder output, decoder layer 1, ..., D]."""
        patch = self.spec.patch_size
        grid_hw = (image_hw[0] // patch, image_hw[1] // patch)
        head_dim = self.spec.dec_embed_dim // self.spec.dec_num_heads
        rope1 = self._rope.tables(pos1, grid_hw, head_dim)
        rope2 = self._rope.tables(pos2, grid_hw, head_dim)
        num_inj = self.spec.num_injections
        feat1 = self.decoder_embed(tokens1)
        feat2 = self.decoder_embed(tokens2)
        if num_inj:
            feat1 = feat1 + inj1[:, 0]
            feat2 = feat2 + inj2[:, 0]
        layers1, layers2 = [tokens1], [tokens2]
        for i, (block1, block2) in enumerate(zip(self.dec_blocks, self.dec_blocks2)):
            # Both decoders read the previous layer of both views (already injected).
            new1 = block1(feat1, feat2, rope1, rope2)
            new2 = block2(feat2, feat1, rope2, rope1)
            if i + 1 < num_inj:
                new1 = new1 + inj1[:, i + 1]
                new2 = new2 + inj2[:, i + 1]
            feat1, feat2 = new1, new2
            layers1.append(feat1)
            layers2.append(feat2)
        layers1[-1] = self.dec_norm(layers1[-1])
        layers2[-1] = self.dec_norm(layers2[-1])
        return layers1, layers2

    # ---------------------------------------------------------------- both

    def forward(self, img1: torch.Tensor, img2: torch.Tensor,
                pointmap1: Optional[torch.Tensor] = None,
                pointmap2: Optional[torch.Tensor] = None) -> PairwiseOutput:
        """Two-view inference (the official ``model(view1, view2)``).

        Args:
            img1, img2: (B, 3, H, W) normalised images of one size.
            pointmap1, pointmap2: (B, H, W, 3) normalised point maps (Align3R).

        Returns:
            PairwiseOutput, both point maps in view 1's camera frame.
        """
        if not is_tracing():
            bhw1 = check_images(img1, 'img1', self.spec.patch_size)
            bhw2 = check_images(img2, 'img2', self.spec.patch_size)
            check_same_size(bhw1, bhw2, 'image sizes (B, H, W) of the pair')
            if self.needs_pointmap:
                check_pointmap(pointmap1, 'pointmap1', bhw1)
                check_pointmap(pointmap2, 'pointmap2', bhw2)
        batch = img1.shape[0]
        pointmaps = torch.cat((pointmap1, pointmap2)) if self.needs_pointmap else None
        both = self.encode(torch.cat((img1, img2)), pointmaps)
        index = torch.arange(2 * batch, device=img1.device)
        return self.decode(both.select(index[:batch]), both.select(index[batch:]))
