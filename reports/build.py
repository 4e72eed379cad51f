"""Build the whole report: run every section builder, then write HTML, Markdown and CSV into one folder.

>>> import tempfile
>>> from policy_store import PolicyStore
>>> with tempfile.TemporaryDirectory() as d, PolicyStore.memory() as store:
...     html = build_report(store, d)
...     html.name, sorted(p.name for p in html.parent.iterdir())
('report.html', ['manifest.json', 'overview_counts.csv', 'overview_store.csv', 'report.html', 'report.md'])
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from policy_store.reports import (
    decisions,
    meta_evaluation,
    overview,
    per_task,
    provenance,
    resources,
    rules_across_tasks,
)
from policy_store.reports._base import Section
from policy_store.reports.filters import DEFAULT_REGRET_WEIGHT, ReportFilter
from policy_store.reports.render_csv import write_csv
from policy_store.reports.render_html import render_html
from policy_store.reports.render_markdown import render_markdown

from policy_store.choices import DEFAULT_OUT_DIR
from policy_store.outputs import output_dir, remove_file, write_file
from policy_store.store import PolicyStore, utcnow

MANIFEST = "manifest.json"
#: The section builders, in report order.
BUILDERS: tuple[Callable[[PolicyStore, ReportFilter], Section], ...] = (
    overview.build, rules_across_tasks.build, per_task.build, decisions.build, provenance.build,
    meta_evaluation.build, resources.build,
)


@dataclass(frozen=True)
class ReportFiles:
    """The files one report wrote."""

    html: Path
    markdown: Path
    csv: tuple[Path, ...]

    def to_dict(self) -> dict[str, object]:
        return {"html": str(self.html), "markdown": str(self.markdown), "csv": [str(p) for p in self.csv]}


def collect_sections(store: PolicyStore, flt: ReportFilter | None = None) -> list[Section]:
    """Every section of the report, in order, for ``flt`` (default: the whole store)."""
    flt = flt or ReportFilter()
    return [build(store, flt) for build in BUILDERS]


def write_report(sections: Sequence[Section], out_dir: str | os.PathLike[str], *, subtitle: str) -> ReportFiles:
    """Write ``report.html``, ``report.md`` and one CSV per table into ``out_dir`` (created if needed).

    ``manifest.json`` lists the files written; CSV files a previous report listed there but this one
    does not write (a narrower scope, a section without data now) are removed, so the folder never
    mixes two reports. Other files in the folder are left alone. A folder that is a symlink, a file or a
    system folder is refused, and each file replaces its name whole without following a symlink there
    (:mod:`policy_store.outputs`).
    """
    out = output_dir(out_dir)
    manifest = out / MANIFEST
    try:
        previous = set(json.loads(manifest.read_text(encoding="utf-8")).get("csv", []))
    except (OSError, ValueError, AttributeError):
        previous = set()
    html = write_file(out, "report.html", render_html(sections, subtitle=subtitle))
    markdown = write_file(out, "report.md", render_markdown(sections, subtitle=subtitle))
    files = ReportFiles(html, markdown, tuple(write_csv(sections, out)))
    for name in previous - {p.name for p in files.csv}:
        if Path(name).name == name and name.endswith(".csv"):
            remove_file(out, name)
    write_file(out, MANIFEST, json.dumps({"html": html.name, "markdown": markdown.name,
                                          "csv": [p.name for p in files.csv]}, indent=1))
    return files


def report(store: PolicyStore, out_dir: str | os.PathLike[str] = DEFAULT_OUT_DIR, *,
           tasks: Sequence[str] = (), rules: Sequence[str] = (), study: str | None = None,
           regret_weight: float = DEFAULT_REGRET_WEIGHT) -> ReportFiles:
    """Build the report for a scope and write all its files; see :func:`build_report`."""
    output_dir(out_dir, create=False)  # refused before the (long) build; created only once it has files
    flt = ReportFilter(tuple(tasks), tuple(rules), study, regret_weight)
    subtitle = (f"Store {store.location} (schema version {store.schema_version}), "
                f"generated {utcnow():%Y-%m-%d %H:%M} UTC")
    return write_report(collect_sections(store, flt), out_dir, subtitle=subtitle)


def build_report(store: PolicyStore, out_dir: str | os.PathLike[str] = DEFAULT_OUT_DIR, *,
                 tasks: Sequence[str] = (), rules: Sequence[str] = (), study: str | None = None,
                 regret_weight: float = DEFAULT_REGRET_WEIGHT) -> Path:
    """Write the cross-task report of ``store`` into ``out_dir`` and return the path of ``report.html``.

    Parameters
    ----------
    store:
        An open store (read only is enough).
    out_dir:
        Folder for ``report.html``, ``report.md`` and the CSV files (created if needed).
    tasks:
        Only these tasks (default: all).
    rules:
        Only these rules, ``"name"`` or ``"name@N"`` (default: all).
    study:
        The study whose decisions section 4 draws (default: the one with the most decisions).
    regret_weight:
        λ in ``utility = compute_saved − λ·regret``.
    """
    return report(store, out_dir, tasks=tasks, rules=rules, study=study, regret_weight=regret_weight).html
