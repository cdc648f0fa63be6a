"""The gunicorn application: each worker loads the config, connects to the engines, serves the app.

Run by the supervisor as `python -m ovserve.server.wsgi --bind ... --workers ...`. Building the app
in the worker (never preloading in the master) matters: OpenVINO's threads don't survive a fork.
"""

import argparse
import logging
import os
import sys

from gunicorn.app.base import BaseApplication

from ovserve.http.middleware import PrintableFormatter
from ovserve.server.plan import ConnectionLimits
from ovserve.server.slow_clients import GuardedBodies, connections_within_file_limit

log = logging.getLogger("ovserve.server")


def build_worker_app():
    from ovserve.config.loader import load_server_config
    from ovserve.graph.registry import ServableRegistry
    from ovserve.http.app import AppOptions, create_app
    from ovserve.http.security import load_api_keys
    from ovserve.runtime.bridge import WorkerRuntime
    from ovserve.runtime.telemetry import decline_openvino_telemetry
    from ovserve.server.plan import RuntimePlan
    from ovserve.server.plan_follower import PlanFollower

    decline_openvino_telemetry()
    plan = RuntimePlan.from_environment()
    runtime = WorkerRuntime(plan.engine_sockets)
    follower = None
    if plan.runtime_folder:  # the supervisor's live plan (what a reload changed) wins over the one at start-up
        follower = PlanFollower.boot(plan.runtime_folder)
        follower.start()
        registry = follower.registry
    else:
        registry = ServableRegistry.from_config(load_server_config(plan.config_file))
        for servable in registry:
            servable.load(runtime)
    options = AppOptions(
        max_body_bytes=plan.max_body_bytes,
        watch_disconnect=runtime.watch_disconnect,
        is_draining=plan.is_draining,
        api_keys=load_api_keys(plan.api_key_file or None),
        cors_origins=plan.cors_origins,
        bound_stream_writes=lambda body, sock: runtime.bound_writes(body, sock, plan.client_write_timeout_seconds),
        responses_store=plan.responses_store,
        config_control=follower,
    )
    return create_app(registry, options)


def forget_worker_metrics(server, worker):
    """gunicorn's child_exit hook: drop the exited worker's in-flight gauge (ovms_current_requests) from the
    metrics folder; its counters and histograms stay, so totals survive worker restarts."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class OvserveApplication(BaseApplication):
    def __init__(self, settings, body_timeout_seconds):
        self.settings = settings
        self.body_timeout_seconds = body_timeout_seconds
        super().__init__()

    def load_config(self):
        for key, value in self.settings.items():
            self.cfg.set(key, value)

    def load(self):
        return GuardedBodies(build_worker_app(), self.body_timeout_seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ovserve-http")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker-connections", type=int, default=ConnectionLimits.worker_connections)
    parser.add_argument("--header-timeout-seconds", type=int, default=ConnectionLimits.header_timeout_seconds)
    parser.add_argument("--body-timeout-seconds", type=float, default=ConnectionLimits.body_timeout_seconds)
    parser.add_argument("--graceful-timeout", type=int, default=30)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s [http %(process)d] %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    OvserveApplication(
        {
            "bind": args.bind,
            "workers": args.workers,
            "worker_class": "gevent",
            "worker_connections": connections_within_file_limit(args.worker_connections),
            "graceful_timeout": args.graceful_timeout,
            "timeout": 60,
            # The gevent worker gives a connection this long to send each request's line and headers (and
            # keeps an idle connection this long); it needs a value above 0, or the wait has no bound.
            "keepalive": max(1, args.header_timeout_seconds),
            "preload_app": False,
            "loglevel": args.log_level,
            "accesslog": None,
            "proc_name": "ovserve-http",
            "child_exit": forget_worker_metrics,
        },
        args.body_timeout_seconds,
    ).run()


if __name__ == "__main__":
    main()
