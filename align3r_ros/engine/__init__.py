"""The engine: frames in, aligned per-frame results out; nothing here imports ROS.

* ``engine`` — :class:`~align3r_ros.engine.engine.Engine` (the frame policy, one per stream)
  and ``align_sequence``; ``feed`` — the one feed loop and ``OfflineEngine``.
* ``aligner`` — the ``StreamAligner`` Protocol the engine drives (clip mode, live mode).
* ``steps/`` — what every mode shares: frame preparation and rectification, the solve with
  its dynamic mask, metric scale (from a prior or odometry), the keyframe and clip stages
  (no temporal term there), result assembly.
* ``clip/`` — clip mode (``ClipAligner``); ``live/`` — live mode (``LiveAligner``);
  ``offline/`` — the offline hierarchy (hierarchical and flat alignment of a whole sequence).
"""
