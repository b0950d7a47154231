"""The node's real entry point (``align3r_ros.ros.node.main``) with a fake engine, as a process.

    python node_process.py {plain|clip} --ros-args ...

Everything else is the shipped executable: argument parsing, parameter files, autostart,
signals, shutdown.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # test/, for support (a script)

from support.fake_engine import EngineFactory, FakeEngine  # noqa: E402

from align3r_ros.ros.node import main  # noqa: E402

if __name__ == '__main__':
    make = {'plain': FakeEngine, 'clip': lambda: FakeEngine(clip=4)}[sys.argv[1]]
    sys.exit(main(args=sys.argv[2:], engine_builder=EngineFactory(make).builder()))
