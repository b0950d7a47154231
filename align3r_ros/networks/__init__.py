"""Neural networks: the pairwise point-map net (Align3R / DUSt3R) and the monocular depth priors.

Import what you use from its module (nothing is imported here, so ``import align3r_ros.networks``
pulls in no torch model a caller does not use):

* ``networks.pairwise``: the point-map network (``build``, ``checkpoint``, ``model``) and its ONNX
  export / runtime (``onnx_export``, ``onnx_runtime``);
* ``networks.depth_anything``, ``networks.depth_pro``: the monocular priors;
* ``networks.prior_onnx_contract`` / ``prior_onnx_export``: the priors' ONNX contract and export;
* ``networks.preprocess``, ``networks.resample``, ``networks.detect``: the loader geometry, map
  resampling and checkpoint-architecture detection shared by the networks.
"""
