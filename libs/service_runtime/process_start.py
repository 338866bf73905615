"""Imported first by each service's `python -m` entry point, before anything else: what a service process
sets up before it imports its libraries and modules.

- rich left out when standard error is not a terminal (`service_runtime.without_rich`).
- The cyclic garbage collector paused until the process serves. Importing a service allocates hundreds
  of thousands of objects that live as long as the process, and the collector ran 150 to 170 times
  meanwhile, scanning them again and again: 80 to 100 ms of CPU of every start (gc.callbacks, imports of
  the connector, the mapper and the console). Few of them are garbage (about 1,900 objects, under 1 MB).
  `service_runtime.process.tune_garbage_collection`, called once the process serves, moves what is alive
  then out of the collector's generations and starts the collector again.
"""

from __future__ import annotations

import gc

import service_runtime.without_rich  # noqa: F401  (on import: see there)

gc.disable()
