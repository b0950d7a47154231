"""The node's output topic names, once: the node publishes on them and the replay writes them.

Names are relative to the node (``~/...`` in rclpy) unless they start with ``/`` (global:
``/tf``, ``/tf_static``, ``/diagnostics``). :meth:`OutputTopics.resolved` gives the names a node
called ``align3r`` in the root namespace would use, which is what the replay tool records, so a
replayed bag and a recording of the live node carry the same topics. No ROS imports.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: the node's name (launch files and the replay's resolved names use it)
NODE_NAME = 'align3r'


@dataclass(frozen=True)
class OutputTopics:
    """Output topic names, relative to the node unless global (leading ``/``)."""

    depth: str = 'depth/image'
    depth_info: str = 'depth/camera_info'
    points: str = 'points'
    odometry: str = 'odometry'
    path: str = 'path'
    keyframes: str = 'keyframes/path'
    dynamic_mask: str = 'dynamic_mask/image'
    dynamic_mask_info: str = 'dynamic_mask/camera_info'
    confidence: str = 'confidence/image'
    tf: str = '/tf'
    tf_static: str = '/tf_static'
    diagnostics: str = '/diagnostics'

    def private(self, name: str) -> str:
        """rclpy's spelling of one of these names: ``~/name`` for node-relative ones."""
        return name if name.startswith('/') else f'~/{name}'

    def resolved(self, node_name: str = NODE_NAME, namespace: str = '/') -> 'OutputTopics':
        """Fully qualified names for a node ``node_name`` in ``namespace``."""
        prefix = '/'.join(p for p in (namespace.strip('/'), node_name) if p)
        return OutputTopics(**{f.name: (value if value.startswith('/') else f'/{prefix}/{value}')
                               for f in fields(self)
                               for value in (getattr(self, f.name),)})


#: the names every output uses
OUTPUT_TOPICS = OutputTopics()
