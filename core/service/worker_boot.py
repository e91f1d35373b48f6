"""What the forkserver imports once, so that each worker process it forks starts at once.

Every module a run's pickle names is imported here (the engine, the experiments), and the
fused GRU kernel is loaded (built on the machine's first use), so no worker pays for either.
"""
from __future__ import annotations

from .. import fast, train  # noqa: F401  (imported for the workers)
from ..exercises import experiments  # noqa: F401
from . import jobs, train_work  # noqa: F401  (train_work: what a training worker runs)

fast.load(timeout=fast.BUILD_WAIT_SECONDS)   # before any run: its trainer then finds it loaded
