"""Read a written report back: HTML sections, figures and table cells; Markdown tables."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class ReportParser(HTMLParser):
    """Collects section keys, figure keys, SVG count and the text of every table cell by ``data-table``."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.figures: list[str] = []
        self.svgs = 0
        self.scripts = 0
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["data-section"])
        elif tag == "figure":
            self.figures.append(a["data-figure"])
        elif tag == "svg":
            self.svgs += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table = a["data-table"]
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[self._table].append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_html(text: str) -> ReportParser:
    p = ReportParser()
    p.feed(text)
    return p


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table's body rows (cells split on unescaped pipes), in order."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
            if current is None:
                current = []
                tables.append(current)
            elif set("".join(cells)) <= set("-: "):
                continue
            else:
                current.append(cells)
        else:
            current = None
    return tables
