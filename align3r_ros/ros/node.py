"""The ``align3r`` lifecycle node (executable ``align3r_node``).

configure: parameters -> config, build the engine (loads weights; a missing or bad file fails
the transition with a one-line reason). activate: publishers, subscriptions and ONE worker
thread. deactivate: stop them. cleanup: free the models and the CUDA cache. With
``autostart: true`` the node configures and activates itself.

Where a frame goes: ``inputs.InputSubscriptions`` (convert, enqueue) -> ``worker.FrameQueue``
-> ``worker.InferenceWorker`` (engine.push) -> ``publishers.OutputPublishers``.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional

import rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from align3r_ros.config import Align3rConfig, TfMode
from align3r_ros.errors import Align3rError
from align3r_ros.ros import params
from align3r_ros.ros.inputs import InputSubscriptions
from align3r_ros.ros.message_types import rclpy_message_types
from align3r_ros.ros.publishers import OutputPublishers
from align3r_ros.ros.worker import (
    FrameQueue,
    InferenceWorker,
    PipelineCounters,
    free_accelerator_memory,
)
from align3r_ros.structures import FrameResult

#: config -> zero-argument engine factory; called once in configure (loads the weights), the
#: factory once per (re)start of the stream, reusing the loaded backends.
EngineBuilder = Callable[[Align3rConfig], Callable[[], Any]]
DIAGNOSTICS_PERIOD_S = 1.0


def default_engine_builder(config: Align3rConfig) -> Callable[[], Any]:
    """Load the backends named by the config once; each call of the result is a fresh engine."""
    from align3r_ros.engine import Engine, build_backends
    from align3r_ros.runtime import configure_runtime
    configure_runtime(config.runtime)
    pairwise, prior = build_backends(config)
    return lambda: Engine(config, pairwise, prior)


class Align3rNode(LifecycleNode):
    """Monocular depth, point clouds and camera poses from an image stream."""

    def __init__(self, *, engine_builder: EngineBuilder = default_engine_builder,
                 **node_kwargs: Any) -> None:
        super().__init__('align3r', **node_kwargs)
        self._engine_builder = engine_builder
        self._types = rclpy_message_types()
        params.declare_parameters(self)
        self.config: Optional[Align3rConfig] = None
        self._worker: Optional[InferenceWorker] = None
        self._queue: Optional[FrameQueue] = None
        self._counters = PipelineCounters()
        self._inputs: Optional[InputSubscriptions] = None
        self._outputs: Optional[OutputPublishers] = None
        self._diagnostics_timer = None
        self._tf_buffer = None
        self._tf_listener = None
        self.add_on_set_parameters_callback(params.make_set_parameters_callback(
            lambda: self.config or params.read_config(self), self._apply_runtime_config))

    def _apply_runtime_config(self, config: Align3rConfig) -> None:
        self.config = config  # one attribute swap: the worker reads whole configs only

    # -- lifecycle ----------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            config = params.read_config(self)
            self._counters = PipelineCounters()
            self._queue = FrameQueue(config.input.queue_size)
            self._worker = InferenceWorker(
                self._engine_builder(config), self._queue, self._counters,
                self._publish_result, self.get_logger())
        except Align3rError as exc:
            self.get_logger().error(f'configure failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        except Exception as exc:
            self.get_logger().error(f'configure failed: {type(exc).__name__}: {exc}')
            return TransitionCallbackReturn.FAILURE
        self.config = config
        if config.frames.tf_mode is TfMode.REP105:
            from tf2_ros import Buffer, TransformListener
            self._tf_buffer = Buffer()
            self._tf_listener = TransformListener(self._tf_buffer, self)
        self.get_logger().info('configured')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        config = self.config
        self._outputs = OutputPublishers(self, config, self._types, self._tf_buffer)
        self._inputs = InputSubscriptions(self, config, self._types, self._submit,
                                          self._counters)
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD_S,
                                                    self.publish_diagnostics)
        self._worker.start()
        self.get_logger().info('active')
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_pipeline()
        self.get_logger().info('inactive')
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info('cleaned up')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_pipeline()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_pipeline()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_pipeline(self) -> None:
        if self._inputs is not None:
            self._inputs.destroy()
            self._inputs = None
        if self._worker is not None:
            self._worker.stop()
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        if self._outputs is not None:
            self._outputs.destroy()
            self._outputs = None

    def _release(self) -> None:
        if self._worker is not None:
            self._worker.release()
        self._worker = None
        self._queue = None
        self._tf_listener = self._tf_buffer = None
        free_accelerator_memory()

    # -- data path ----------------------------------------------------------------------------
    def _submit(self, queued: Any) -> None:
        if self._queue is not None and self._queue.put(queued):
            self.get_logger().warning('inference is slower than the input: dropping the oldest '
                                      'frame', throttle_duration_sec=5.0)

    def _publish_result(self, result: FrameResult, frame_id: str) -> None:
        outputs, config = self._outputs, self.config
        if outputs is not None and config is not None:
            outputs.publish_result(result, frame_id, config)

    def publish_diagnostics(self) -> None:
        """Timer callback: one DiagnosticArray stamped with the node clock (sim time aware)."""
        if self._outputs is None or self._queue is None:
            return
        health = self._counters.health(self._queue)
        self._outputs.publish_diagnostics(health, self.get_clock().now().nanoseconds)


def main(args: Optional[list] = None) -> int:
    """Entry point of ``ros2 run align3r_ros align3r_node``."""
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = Align3rNode()
    try:
        if node.get_parameter(params.AUTOSTART).value and \
                node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.on_shutdown(LifecycleState(label='shutting down', state_id=0))
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
