"""The user cache directory: downloads, converted corpora and the model fitted from the shipped knowledge.

Kept out of :mod:`policy_store.datasets` (which imports every source) so that a
recommendation finds its cached model without importing the sources.
"""

from __future__ import annotations

import hashlib
import importlib.util
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


def source_digest(*modules: str) -> str:
    """sha256 (hex) of the source of ``modules``, in the order given: a module's file, or every ``.py`` file of a
    package (sorted) -- the key of a cache whose contents that code computes, so edited code never reads what the
    code before the edit cached.

    Modules are found as import finds them (without running them), not by path: ``policy_store.meta`` and
    ``policy_store.drift`` live outside the ``policy_store`` folder.

    Examples
    --------
    >>> len(source_digest("policy_store.cache", "policy_store.rules"))
    64
    """
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"no source for {name!r}")
        path = Path(spec.origin)
        files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        for file in files:
            digest.update(file.read_bytes())
    return digest.hexdigest()
