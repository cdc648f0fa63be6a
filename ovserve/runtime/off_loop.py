"""Blocking work of an HTTP worker run off its event loop, in a real thread of gevent's pool.

For work that blocks without needing the GIL throughout (Pillow decoding an image, reading a file or a
socket): the loop goes on serving the other requests' streams meanwhile. What runs here must not log:
logging's lock is monkey-patched, and a greenlet waiting on it while a pool thread holds it is never
woken (the worker-side load of an earlier version hung this way; see server/plan_follower.py).
"""


def run_off_loop(function, *args):
    """function(*args) in a thread of the worker's pool; inline outside a gevent worker (tools, unit tests)."""
    try:
        import gevent
    except ImportError:
        return function(*args)
    return gevent.get_hub().threadpool.apply(function, args)
