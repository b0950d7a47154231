"""Mapping with the node's outputs: a TSDF map fused from an output bag (``align3r-map``).

ROS-free. :mod:`.bag_source` reads depth, CameraInfo, poses (odometry, a pose topic or the TF
tree) and the dynamic mask out of a bag the replay wrote or the node's recording;
:mod:`.tsdf` fuses them with Open3D (an optional dependency: :func:`.tsdf.require_open3d` says
how to install it); :mod:`.build` is the use case (bag -> ``mesh.ply``, ``points.ply``,
``map.png``); :mod:`.quality` scores a map against a reference (outliers, movers' trails).
"""
