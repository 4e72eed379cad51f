"""The user cache directory: downloads, converted corpora and the model fitted from the shipped knowledge.

Kept out of :mod:`policy_store.datasets` (which imports every source) so that a
recommendation finds its cached model without importing the sources.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "POLICY_STORE_CACHE"


def cache_dir() -> Path:
    """The user cache directory for downloads and converted corpora (created on demand).

    ``$POLICY_STORE_CACHE`` if set, else ``$XDG_CACHE_HOME/policy-store``, else
    ``~/.cache/policy-store``.

    Examples
    --------
    >>> cache_dir().is_dir()
    True
    """
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        path = Path(explicit)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "policy-store"
    path.mkdir(parents=True, exist_ok=True)
    return path
