"""Old path, kept only for ``datasets/hpo*.py`` until the merge (see /work/handoff/meta-moves.md)."""

from policy_store.meta.features.store import *  # noqa: F403
