"""The ``align3r`` lifecycle node (executable ``align3r_node``).

configure: parameters -> config, build the engine (loads weights; a missing or bad file, or a
bad parameter, fails the transition with a one-line reason and the process stays up).
activate: publishers, subscriptions and ONE worker thread. deactivate: stop the subscriptions,
process the frames already queued, flush the engine's held frames, publish them, then stop.
cleanup: free the models and the CUDA cache. With ``autostart: true`` the node configures and
activates itself.

Where a frame goes: ``inputs.InputSubscriptions`` (convert, enqueue) ->
``pipeline_state.FrameQueue`` -> ``worker.InferenceWorker`` (engine.push) ->
``publishers.OutputPublishers``.

Shutdown (:func:`main`): SIGINT and SIGTERM only set a flag; the spin loop then takes the
messages already delivered, runs the lifecycle shutdown (drain, flush, publish, wait for the
acknowledgements) while the ROS context is still valid, and exits 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable, Optional

import rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from align3r_ros.config import Align3rConfig, OdometrySource, QosReliability, TfMode
from align3r_ros.errors import Align3rError
from align3r_ros.ros.inputs import InputSubscriptions
from align3r_ros.ros.message_types import rclpy_message_types
from align3r_ros.ros.odometry_input import OdometryInput
from align3r_ros.ros.params import AUTOSTART, ParameterState
from align3r_ros.ros.publishers import OutputPublishers
from align3r_ros.ros.pipeline_state import FrameQueue, PipelineCounters
from align3r_ros.ros.worker import InferenceWorker, free_accelerator_memory
from align3r_ros.structures import Frame, FrameResult

#: config -> zero-argument engine factory; called once in configure (loads the weights), the
#: factory once per (re)start of the stream, reusing the loaded backends.
EngineBuilder = Callable[[Align3rConfig], Callable[[], Any]]
DIAGNOSTICS_PERIOD_S = 1.0
#: how often ``best_available`` inputs re-check their publishers' reliability.
QOS_REFRESH_PERIOD_S = 0.5


def default_engine_builder(config: Align3rConfig) -> Callable[[], Any]:
    """Load the backends named by the config once; each call of the result is a fresh engine."""
    from align3r_ros.engine.engine import Engine, build_backends
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
        self.config: Optional[Align3rConfig] = None
        self._active = False
        self._worker: Optional[InferenceWorker] = None
        self._queue: Optional[FrameQueue] = None
        self._counters = PipelineCounters()
        self._inputs: Optional[InputSubscriptions] = None
        self._outputs: Optional[OutputPublishers] = None
        self._timers: list = []
        self._tf_buffer = None
        self._tf_listener = None
        self._odometry: Optional[OdometryInput] = None
        self.parameters = ParameterState(self, lambda: self._active, lambda: self.config,
                                         self._apply_runtime_config)

    def _apply_runtime_config(self, config: Align3rConfig) -> None:
        self.config = config  # one attribute swap: the worker reads whole configs only

    # -- lifecycle ----------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            config = self.parameters.read_config()
            self._counters = PipelineCounters()
            self._queue = FrameQueue(config.input.queue_size)
            self._worker = InferenceWorker(
                self._engine_builder(config), self._queue, self._counters,
                self._publish_result, self.get_logger(), self._publish_keyframes)
        except Align3rError as exc:
            self.get_logger().error(f'configure failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        except Exception as exc:
            self.get_logger().error(f'configure failed: {type(exc).__name__}: {exc}')
            return TransitionCallbackReturn.FAILURE
        self.config = config
        if config.frames.tf_mode is TfMode.REP105 or \
                config.input.odometry is not OdometrySource.NONE:
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
        self._timers = [self.create_timer(DIAGNOSTICS_PERIOD_S, self.publish_diagnostics)]
        if config.input.reliability is QosReliability.BEST_AVAILABLE:
            self._timers.append(self.create_timer(QOS_REFRESH_PERIOD_S,
                                                  self._inputs.refresh_qos))
        if config.input.odometry is not OdometrySource.NONE:
            self._odometry = OdometryInput(self, config, self._types, self._tf_buffer)
            self._worker.attach = self._odometry.attach
        self._worker.start()
        self._active = True
        self.get_logger().info('active')
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_pipeline()
        self.get_logger().info('inactive')
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.config = None
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

    def destroy_node(self) -> None:
        """Stop the pipeline (draining it) and free the engine before the node goes."""
        self._stop_pipeline()
        self._release()
        super().destroy_node()

    def _stop_pipeline(self) -> None:
        """Stop receiving, process what was received, flush and publish it, then stop."""
        self._active = False
        if self._inputs is not None:
            self._inputs.destroy()
            self._inputs = None
        if self._worker is not None:
            self._worker.stop()
        for timer in self._timers:
            self.destroy_timer(timer)
        self._timers = []
        if self._outputs is not None:
            self.publish_diagnostics()  # the final counts
            self._outputs.destroy()
            self._outputs = None
        if self._odometry is not None:
            self._odometry.destroy()
            self._odometry = None
            if self._worker is not None:
                self._worker.attach = None

    def _release(self) -> None:
        if self._worker is not None:
            self._worker.release()
        self._worker = None
        self._queue = None
        self._tf_listener = self._tf_buffer = None
        free_accelerator_memory()

    # -- data path ----------------------------------------------------------------------------
    def _submit(self, frame: Frame) -> None:
        if self._queue is not None and self._queue.put(frame):
            self.get_logger().warning('inference is slower than the input: dropping the oldest '
                                      'frame', throttle_duration_sec=5.0)

    def _publish_result(self, result: FrameResult) -> None:
        outputs, config = self._outputs, self.config
        if outputs is not None and config is not None:
            outputs.publish_result(result, config)

    def _publish_keyframes(self, keyframes: list, stamp_ns: int) -> None:
        outputs, config = self._outputs, self.config
        if outputs is not None and config is not None:
            outputs.publish_keyframes(keyframes, stamp_ns, config)

    def publish_diagnostics(self) -> None:
        """Timer callback: one DiagnosticArray stamped with the node clock (sim time aware)."""
        if self._outputs is None or self._queue is None:
            return
        health = self._counters.health(self._queue)
        with self._counters.lock:
            lost = self._counters.lost
        extra, warning = self._odometry.diagnostics() if self._odometry is not None else ((), '')
        self._outputs.publish_diagnostics(health, lost, self.get_clock().now().nanoseconds,
                                          extra, warning)

    @property
    def frames_received(self) -> int:
        with self._counters.lock:
            return self._counters.received


def _take_delivered(executor: Any, node: Align3rNode, max_rounds: int = 200) -> None:
    """Run the callbacks of messages already delivered (until two rounds bring no new frame)."""
    quiet = 0
    for _ in range(max_rounds):
        before = node.frames_received
        executor.spin_once(timeout_sec=0.02)
        quiet = quiet + 1 if node.frames_received == before else 0
        if quiet >= 2:
            return


def main(args: Optional[list] = None,
         engine_builder: EngineBuilder = default_engine_builder) -> int:
    """Entry point of ``ros2 run align3r_ros align3r_node``; exit code 0 after SIGINT/SIGTERM."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    # rclpy's own handlers would shut the context down before the last frames are published.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = Align3rNode(engine_builder=engine_builder)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if node.get_parameter(AUTOSTART).value and \
                node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
        if rclpy.ok():
            _take_delivered(executor, node)
            node.get_logger().info('shutting down: processing and publishing the frames '
                                   'received')
            node.trigger_shutdown()
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == '__main__':
    sys.exit(main())
