"""Keeping OpenVINO's usage telemetry out of the server's processes.

Loading a GGUF tokenizer imports OpenVINO's model converter, which sends usage telemetry from a
*forked* process. Forking a gunicorn worker copies its listening socket and its gevent hub: the
copy runs worker code (seen: "Parent changed, shutting down") and could accept a connection. A
server must not fork behind its own back, nor phone home, so ovserve declines telemetry in every
process it starts, unless OVSERVE_OPENVINO_TELEMETRY=1.
"""

import os


def decline_openvino_telemetry():
    if os.environ.get("OVSERVE_OPENVINO_TELEMETRY") == "1":
        return
    try:
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:
        return
    OptInChecker.check = lambda self, *args, **kwargs: ConsentCheckResult.DECLINED
