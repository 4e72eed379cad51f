"""Where joblib-parallel work runs: this machine, or a Dask cluster.

Rule-grid replays (``evaluate``) and the meta-learner's training replays (``meta fit``, ``meta evaluate``) fan out
with joblib. Inside :func:`parallel_backend` with ``backend="dask"`` the same calls run on the Dask cluster
whose scheduler is at ``scheduler`` (joblib's ``parallel_config(backend="dask")``); the tasks and their seeds
are the same, and joblib returns results in submission order, so the outcomes equal the local run's. Every
worker needs the same policy-store installed (``pip install 'policy-store[dask]'``); workers only compute,
the store is read and written by the calling process.

>>> with parallel_backend("local") as n_jobs:
...     n_jobs
>>> jobs_for("dask", 1), jobs_for("local", 4)
(-1, 4)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from policy_store.errors import InvalidInputError, MissingDependencyError, PolicyStoreError

BACKENDS = ("local", "dask")


def jobs_for(backend: str, n_jobs: int) -> int:
    """The ``n_jobs`` to hand joblib: all the cluster's workers on Dask (1 would run locally), else ``n_jobs``."""
    return -1 if backend == "dask" else n_jobs


@contextmanager
def parallel_backend(backend: str = "local", scheduler: str | None = None, *, timeout: float = 10.0
                     ) -> Iterator[int | None]:
    """Run the block's joblib work locally or on the Dask cluster at ``scheduler``.

    Parameters
    ----------
    backend:
        ``"local"`` (joblib's default processes) or ``"dask"``.
    scheduler:
        With ``"dask"``: the scheduler's address, e.g. ``tcp://10.0.0.5:8786``.
    timeout:
        Seconds to wait for the scheduler.

    Yields
    ------
    int or None
        The number of Dask workers (``None`` locally), for messages.

    Raises
    ------
    InvalidInputError
        Unknown backend, or ``"dask"`` without a scheduler.
    MissingDependencyError
        ``"dask"`` without the ``dask`` extra.
    PolicyStoreError
        The scheduler cannot be reached within ``timeout``.
    """
    if backend not in BACKENDS:
        raise InvalidInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}", field="backend")
    if backend == "local":
        yield None
        return
    if not scheduler:
        raise InvalidInputError("--backend dask needs --scheduler ADDRESS (e.g. tcp://host:8786)", field="scheduler")
    try:
        from distributed import Client
        from joblib import parallel_config
    except ImportError as e:
        raise MissingDependencyError("the dask backend needs: pip install 'policy-store[dask]'") from e
    try:
        client = Client(scheduler, timeout=f"{timeout}s", set_as_default=True)
    except (OSError, TimeoutError) as e:
        raise PolicyStoreError(f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s: {e}") from e
    try:
        with parallel_config(backend="dask"):
            yield len(client.scheduler_info().get("workers", {}))
    finally:
        client.close()
