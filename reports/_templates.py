"""The HTML page and its stylesheet, as :class:`string.Template` s (no template files, no package data).

Values substituted into :data:`PAGE` are already escaped by the renderer.

>>> "$title" in PAGE.template and "<script" not in PAGE.template
True
"""

from __future__ import annotations

from string import Template

STYLE = """
:root { --ink: #222; --muted: #666; --line: #ddd; --band: #f6f7f9; --accent: #4c78a8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #1f2d3d; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d3dd; font-size: 13px; }
nav { padding: 10px 32px; border-bottom: 1px solid var(--line); background: var(--band); font-size: 13px; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; }
main { max-width: 1120px; margin: 0 auto; padding: 8px 32px 48px; }
section { border-top: 1px solid var(--line); padding-top: 6px; margin-top: 26px; }
h2 { font-size: 19px; margin: 12px 0 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.intro, p.note, figcaption { color: var(--muted); }
p.empty { background: #fff8e5; border: 1px solid #f0d78c; padding: 10px 14px; border-radius: 4px; }
figure { margin: 14px 0 20px; }
figure .plot { max-width: 100%; height: auto; font-family: inherit; }
figcaption { font-size: 12.5px; margin-top: 4px; }
figure.half { display: inline-block; width: 48.5%; vertical-align: top; margin-right: 1%; }
td.time { white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
td { max-width: 32em; overflow-wrap: anywhere; }
th { background: var(--band); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfbfc; }
details summary { cursor: pointer; color: var(--accent); margin: 8px 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 20px; }
@media print {
  header { background: none; color: #000; padding: 0 0 8px; border-bottom: 2px solid #000; }
  header p { color: #333; }
  nav { display: none; }
  main { max-width: none; padding: 0; }
  section { break-inside: auto; }
  figure, table { break-inside: avoid; }
  figure.half { width: 48%; }
  details::details-content { content-visibility: visible; display: block; }
  details > summary { display: none; }
  a { color: inherit; }
}
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>$title</title>
<style>$style</style>
</head>
<body>
<header><h1>$title</h1><p>$subtitle</p></header>
<nav>$nav</nav>
<main>
$sections
</main>
<footer>$footer</footer>
</body>
</html>
""")
