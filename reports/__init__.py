"""Cross-task report builders (HTML, Markdown, CSV)."""
