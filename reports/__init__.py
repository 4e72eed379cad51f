"""Cross-task reports: one self-contained HTML page with inline SVG plots, the same tables as Markdown and CSV.

>>> import tempfile
>>> from policy_store import PolicyStore
>>> with tempfile.TemporaryDirectory() as d, PolicyStore.memory() as store:
...     print(build_report(store, d).name)
report.html
"""

from policy_store.reports._base import Column, Figure, Section, Table, fmt
from policy_store.reports.build import (
    BUILDERS,
    DEFAULT_OUT_DIR,
    ReportFiles,
    build_report,
    collect_sections,
    report,
    write_report,
)
from policy_store.reports.filters import DEFAULT_REGRET_WEIGHT, ReportFilter

__all__ = [
    "BUILDERS",
    "DEFAULT_OUT_DIR",
    "DEFAULT_REGRET_WEIGHT",
    "Column",
    "Figure",
    "ReportFiles",
    "ReportFilter",
    "Section",
    "Table",
    "build_report",
    "collect_sections",
    "fmt",
    "report",
    "write_report",
]
