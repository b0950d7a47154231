"""autostart off and on under launch_testing (the launch service runs in the test process, as
ROS packages' launch tests do): align3r.launch.py included with its arguments, the node's
lifecycle read and driven through its lifecycle services with rclpy, and its exit code 0 after
launch shuts it down (SIGINT).

(launch_pytest, the newer framework, does not run with this pytest: its 3.7.1 plugin reads a
fixture attribute pytest 8.4 removed.) The include runs inside a scoped GroupAction, so its
environment (the test's domain, log folder, Fast DDS profile variable) stays out of this
process's os.environ.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import unittest
from pathlib import Path

import pytest

from .launch_support import fresh_domain_id, require_ros2_launch, tiny_params

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')
launch_testing = pytest.importorskip('launch_testing', reason='needs launch_testing '
                                     '(source .ci/ros2_env.sh)')
actions = pytest.importorskip('launch_testing.actions')
asserts = pytest.importorskip('launch_testing.asserts')
markers = pytest.importorskip('launch_testing.markers')

DOMAIN_ID = fresh_domain_id()


@pytest.mark.launch_test
@markers.keep_alive
@launch_testing.parametrize('autostart', ['false', 'true'])
def generate_test_description(autostart):
    from ament_index_python.packages import get_package_share_directory
    from conftest import shared_dir  # test/conftest.py: ../shared or $ALIGN3R_SHARED_DIR
    from launch import LaunchDescription
    from launch.actions import GroupAction, IncludeLaunchDescription, SetEnvironmentVariable
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    require_ros2_launch()
    share = Path(get_package_share_directory('align3r_ros'))
    folder = Path(tempfile.mkdtemp(prefix='align3r_launch_testing_'))
    params = tiny_params(folder / 'params.yaml', shared_dir())
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share / 'launch' / 'align3r.launch.py')),
        launch_arguments={'autostart': autostart, 'params_file': str(params)}.items())
    return LaunchDescription([
        GroupAction(scoped=True, forwarding=True, actions=[
            SetEnvironmentVariable('ROS_DOMAIN_ID', str(DOMAIN_ID)),
            SetEnvironmentVariable('ROS_LOG_DIR', str(folder)), include]),
        actions.ReadyToTest()]), {'folder': folder}


class Lifecycle:
    """The launched node's lifecycle services (own rclpy context in the test's domain)."""

    def __init__(self) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=DOMAIN_ID)
        self.node = rclpy.create_node('lifecycle_probe', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.get = self.node.create_client(GetState, '/align3r/get_state')
        self.change = self.node.create_client(ChangeState, '/align3r/change_state')
        for client in (self.get, self.change):
            assert client.wait_for_service(timeout_sec=120.0), 'no lifecycle services'

    def _call(self, client, request):
        future = client.call_async(request)
        self.executor.spin_until_future_complete(future, timeout_sec=120.0)
        assert future.done(), f'{client.srv_name} did not answer'
        return future.result()

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState
        return self._call(self.get, GetState.Request()).current_state.label

    def transition(self, transition_id: int) -> bool:
        from lifecycle_msgs.srv import ChangeState
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self._call(self.change, request).success

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class TestLifecycle(unittest.TestCase):

    def test_autostart(self, autostart):
        from lifecycle_msgs.msg import Transition

        lifecycle = Lifecycle()
        try:
            if autostart == 'false':  # waits, unconfigured, for the transitions
                self.assertEqual(lifecycle.state(), 'unconfigured')
                self.assertTrue(lifecycle.transition(Transition.TRANSITION_CONFIGURE))
                self.assertEqual(lifecycle.state(), 'inactive')
                self.assertTrue(lifecycle.transition(Transition.TRANSITION_ACTIVATE))
                self.assertEqual(lifecycle.state(), 'active')
            else:  # configures and activates by itself
                deadline = time.monotonic() + 120.0  # guards a hang only
                states = [lifecycle.state()]
                while states[-1] != 'active' and time.monotonic() < deadline:
                    states.append(lifecycle.state())  # unconfigured/inactive while starting
                self.assertEqual(states[-1], 'active', states)
        finally:
            lifecycle.close()


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    def test_node_exits_cleanly(self, proc_info, folder):
        try:
            asserts.assertExitCodes(proc_info)  # 0 after launch's SIGINT
        finally:
            shutil.rmtree(folder, ignore_errors=True)
