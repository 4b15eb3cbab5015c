"""The event loop first: how a server process shares its cores and the GIL.

``/api/locate`` and ``/api/health`` run on the event loop (the process's main thread);
everything else that computes (heavy requests, the caches' warming) runs in worker threads.
Under a crowd of heavy requests the loop lost twice (``bench/heavy_mix.py`` on the sample
county, 150,000 households, 100 heavy requests a second over 100 connections, 2 cores):

* to the operating system: heavy threads in C code that releases the GIL (numpy, GEOS,
  SQLite) took the cores, and the loop waited for one like any other thread. Worker threads
  are therefore started ten steps nicer (Linux gives a thread its own nice value), so the
  loop gets a core first whenever it has work;
* to the GIL: the loop gives the GIL up at every SQLite read of a token and every socket
  wait, and getting it back meant waiting out another thread's switch interval (5 ms by
  default), several times per request. The interval is 1 ms in a server process.

Measured with both and one heavy request per core: the cheap requests' p99 from 6 ms alone
to 132–171 ms under the crowd (``docs/county-it.md``, Bounds), where it was seconds before.
Applied by ``gisgrid serve`` to its own process (and to each ``--workers`` process), never by
``create_app`` itself: a test or a script embedding the app keeps its threads as they are.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from types import FrameType

#: the GIL's switch interval of a server process, in seconds (Python's default: 0.005)
SWITCH_INTERVAL_SECONDS = 0.001
#: how much nicer than the process a worker thread runs
WORKER_NICENESS = 10


def favour_the_event_loop() -> None:
    """Make the threads started from now on nicer than this one, and the GIL's switch
    interval short; call it in the server's main thread before it starts any other."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    if sys.platform == "linux":  # elsewhere the nice value is the whole process's
        threading.setprofile(_nicer_then_forget)


def _nicer_then_forget(frame: FrameType, event: str, arg: object) -> None:
    """A new thread's first profiling event: make the thread nicer, then stop profiling it."""
    sys.setprofile(None)
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):  # not allowed, or gone: it runs as it is
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(nice + WORKER_NICENESS, 19))
