"""Telling a pandas DataFrame apart without importing pandas (0.3-0.5 s of a command's start-up).

While pandas is not imported no object can be a DataFrame, so a code path that accepts either a
DataFrame or plain values asks :func:`is_dataframe` and imports pandas only when it gets one.

>>> is_dataframe({"a": 1.0})
False
>>> import pandas as pd
>>> is_dataframe(pd.DataFrame({"a": [1.0]}))
True
"""

from __future__ import annotations

import sys
from typing import Any


def is_dataframe(obj: Any) -> bool:
    """Whether ``obj`` is a ``pandas.DataFrame`` (False at once while pandas is not imported)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)
