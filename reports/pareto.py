"""The Pareto front of rule versions: more compute saved and less regret.

>>> pareto_front([0.6, 0.5, 0.4, 0.7], [0.02, 0.01, 0.015, 0.05])
[True, True, False, True]
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pareto_front(saved: Sequence[float], regret: Sequence[float]) -> list[bool]:
    """Whether each point is not dominated (another point saves at least as much at no more regret, and is
    strictly better in one). Points with a missing coordinate are never on the front.
    """
    points = list(zip(saved, regret, strict=True))

    def finite(p: tuple[float, float]) -> bool:
        return all(v is not None and math.isfinite(v) for v in p)

    def dominated(p: tuple[float, float]) -> bool:
        return any(finite(q) and q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)

    return [finite(p) and not dominated(p) for p in points]
