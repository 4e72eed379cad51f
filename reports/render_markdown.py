"""Render sections as Markdown: the same tables and numbers as the HTML, plots left to the HTML page.

>>> from policy_store.reports._base import Column, Section, Table
>>> print(render_markdown([Section("s", "Rules", tables=[Table("t", "T", (Column("a", "a|b", "float"),),
...                                                                   [{"a": 0.25}])])], subtitle="now"))
# policy-store report
<BLANKLINE>
now
<BLANKLINE>
## 1. Rules
<BLANKLINE>
### T
<BLANKLINE>
| a\\|b |
| ---: |
| 0.2500 |
<BLANKLINE>
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_store.reports._base import Section, Table, fmt

_NUMERIC = ("int", "float", "pct")


def md_cell(text: str) -> str:
    """Escape one cell: pipes, backslashes, angle brackets (no raw HTML in a wiki) and line breaks.

    >>> md_cell("<script>a|b</script>")
    '&lt;script&gt;a\\\\|b&lt;/script&gt;'
    """
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def _table(table: Table) -> list[str]:
    lines = [f"### {md_cell(table.title)}", ""]
    if table.rows:
        lines.append("| " + " | ".join(md_cell(c.label) for c in table.columns) + " |")
        lines.append("| " + " | ".join("---:" if c.kind in _NUMERIC else "---" for c in table.columns) + " |")
        for row in table.visible_rows:
            lines.append("| " + " | ".join(md_cell(fmt(row.get(c.key), c.kind)) for c in table.columns) + " |")
        lines.append("")
    notes = " ".join(n for n in (table.note, table.truncation_note) if n)
    if notes:
        lines += [f"_{md_cell(notes)}_", ""]
    return lines


def render_markdown(sections: Sequence[Section], *, subtitle: str) -> str:
    """The whole report as Markdown text."""
    lines = ["# policy-store report", "", md_cell(subtitle), ""]
    for i, s in enumerate(sections, 1):
        lines += [f"## {i}. {md_cell(s.title)}", ""]
        if s.intro:
            lines += [md_cell(s.intro), ""]
        if s.empty:
            lines += [f"> {md_cell(s.empty)}", ""]
        if s.figures:
            lines += [f"_{len(s.figures)} plot(s) in report.html._", ""]
        for t in s.tables:
            lines += _table(t)
    return "\n".join(lines)
