"""Imported first by each service's `python -m` entry point, before anything else: what a service process
sets up before it imports its libraries and modules.

- rich left out when standard error is not a terminal (`service_runtime.without_rich`).
- The cyclic garbage collector paused while the service imports. Importing a service allocates hundreds
  of thousands of objects that live as long as the process, and the collector ran 150 to 170 times
  meanwhile, scanning them again and again: 80 to 100 ms of CPU of every start (gc.callbacks, imports of
  the connector, the mapper and the console). Few of them are garbage (about 1,900 objects, under 1 MB).
  `service_runtime.process.tune_garbage_collection` moves what is alive then out of the collector's
  generations and starts the collector again: the skeleton calls it as the process starts its work,
  before the first wait that can last (PostgreSQL or Kafka not there yet, a migration), and again once
  the process serves. What a start allocates after the imports triggers no collection (none in any
  service's start on the local stack).
"""

from __future__ import annotations

import gc

import service_runtime.without_rich  # noqa: F401  (on import: see there)

gc.disable()
