"""The dashboard's HTML: the report's stylesheet and section renderer inside a page with navigation and a poller.

Every value that reaches the page goes through :func:`policy_store.reports.svg.esc`
(the report's sections escape their own); links carry names URL-encoded. The only
script is :data:`LIVE_JS`, served from memory at ``/static/live.js``; the page's
Content-Security-Policy allows nothing else.

>>> page = render_page("t<1>", "<p>x</p>", active="/", subtitle="s", signature="abc", refresh_ms=1000)
>>> "t&lt;1&gt;" in page and 'data-signature="abc"' in page and "<script src=\\"/static/live.js\\"" in page
True
>>> link("/study", name="a b/<c>")
'/study?name=a+b%2F%3Cc%3E'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from string import Template
from typing import Any
from urllib.parse import urlencode

from policy_store.reports._base import Section, fmt
from policy_store.reports._templates import STYLE
from policy_store.reports.render_html import render_section
from policy_store.reports.svg import esc

NAV = (("/", "Tasks and rules"), ("/studies", "Studies"), ("/halted", "Halted configurations"),
       ("/recommendations", "Recommendations"), ("/drift", "Drift"), ("/rules", "Rule lineage"))

#: What the page may load: its own script and its own endpoints, inline styles and SVG; nothing else.
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_EXTRA_STYLE = """
main { max-width: 1400px; }
nav a.active { font-weight: 700; color: var(--ink); }
#live-status { float: right; color: #c9d3dd; font-size: 12px; }
p.stale { background: #fdecea; border: 1px solid #f5c2c0; padding: 8px 12px; border-radius: 4px; }
p.pager a { margin: 0 8px; }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · policy-store</title>
<style>$style</style>
<script src="/static/live.js" defer></script>
</head>
<body data-refresh-ms="$refresh">
<header><span id="live-status">live</span><h1>$title</h1><p>$subtitle</p></header>
<nav>$nav</nav>
<main data-signature="$signature">
$main
</main>
<footer>policy-store dashboard: read-only; refreshes itself while the store or a running study's spool changes.</footer>
</body>
</html>
""")

#: Polls ``/api/changes``; when the signature differs from the one the page shows, swaps in the new content.
LIVE_JS = """
(() => {
  const main = document.querySelector("main");
  const status = document.getElementById("live-status");
  const every = Number(document.body.dataset.refreshMs) || 1000;
  let busy = false;
  async function tick() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const changes = await fetch("/api/changes", {cache: "no-store"});
      const {signature} = await changes.json();
      if (signature !== main.dataset.signature) {
        const page = await fetch(location.pathname + location.search,
                                 {cache: "no-store", headers: {"X-Dashboard-Fragment": "1"}});
        if (page.ok) {
          main.innerHTML = await page.text();
          main.dataset.signature = page.headers.get("X-Signature") || signature;
          document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
        }
      }
      status.textContent = "live, checked " + new Date().toLocaleTimeString();
    } catch (err) {
      status.textContent = "server unreachable, retrying";
    } finally {
      busy = false;
    }
  }
  setInterval(tick, every);
})();
"""


def link(path: str, **params: Any) -> str:
    """A dashboard URL with its query parameters encoded (``None`` left out)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


def render_sections(sections: Sequence[Section], start: int = 1) -> str:
    """The report's HTML for each section, numbered from ``start``."""
    return "\n".join(render_section(i, s) for i, s in enumerate(sections, start))


def link_table(name: str, title: str, columns: Sequence[tuple[str, str, str]], rows: Sequence[dict[str, Any]],
               href: Callable[[dict[str, Any]], str], *, note: str = "") -> str:
    """A table whose first column links each row to ``href(row)``; ``columns`` are (key, header, kind)."""
    head = "".join(f"<th>{esc(label)}</th>" for _, label, _ in columns)
    body = []
    for row in rows:
        cells = [f'<td><a href="{esc(href(row))}">{esc(fmt(row.get(columns[0][0]), columns[0][2]))}</a></td>']
        cells += [f'<td class="{"num" if kind in ("int", "float", "pct") else ""}">{esc(fmt(row.get(key), kind))}</td>'
                  for key, _, kind in columns[1:]]
        body.append(f"<tr>{''.join(cells)}</tr>")
    table = (f'<div class="table-wrap"><table data-table="{esc(name)}"><thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(body)}</tbody></table></div>" if rows else "")
    return f"<h3>{esc(title)}</h3>{table}" + (f'<p class="note">{esc(note)}</p>' if note else "")


def pager(path: str, page: int, total: int, size: int, **params: Any) -> str:
    """Previous/next links for a paginated list."""
    pages = max(1, -(-total // size))
    prev = f'<a href="{esc(link(path, page=page - 1, **params))}">← previous</a>' if page > 1 else ""
    nxt = f'<a href="{esc(link(path, page=page + 1, **params))}">next →</a>' if page < pages else ""
    return f'<p class="pager">{prev} page {page} of {pages} ({total} in all) {nxt}</p>'


def render_page(title: str, main: str, *, active: str, subtitle: str, signature: str, refresh_ms: int) -> str:
    """The whole page around ``main`` (HTML already escaped)."""
    nav = "".join(f'<a href="{path}"{" class=active" if path == active else ""}>{esc(label)}</a>'
                  for path, label in NAV)
    return PAGE.substitute(title=esc(title), style=STYLE + _EXTRA_STYLE, refresh=int(refresh_ms),
                           subtitle=esc(subtitle), nav=nav, signature=esc(signature), main=main)
