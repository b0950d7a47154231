"""Evaluation with the paper's protocols: depth and pose metrics, dataset readers, reports.

Modules: :mod:`.depth_metrics`, :mod:`.pose_metrics`, :mod:`.association`, :mod:`.datasets`
(with the file formats in :mod:`.dataset_files`), :mod:`.report`, :mod:`.plots`.
"""
