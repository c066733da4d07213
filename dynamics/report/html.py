"""A :class:`~dynamics.report.document.Document` as one self-contained HTML file.

The file needs nothing else: figures are PNGs embedded as ``data:`` URIs, the
CSS is inline, there is no script, and fonts are the reader's own
(``system-ui``). A Content-Security-Policy meta tag forbids the page every
fetch except its own inline images and styles, so even a string that slipped
through could not reach the network. The layout is one readable column that
narrows to a phone's width; wide tables scroll sideways inside their box.

Every string that came from a log or a run -- the source name, metric names,
callback messages, claims that quote them, table cells, sample texts -- goes
through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from dynamics.report.document import SEVERITY_WORDS, Document, Section
from dynamics.report.figures import RenderedFigure
from dynamics.report.tables import TableSpec

#: Forbid every fetch: only inline styles and data: images may load.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa;
  --info: #0969da; --warning: #9a6700; --critical: #cf222e; --undetermined: #8250df; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.5;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.35rem; margin: 2.5rem 0 .25rem; padding-bottom: .3rem; border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere; }
h3 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
h4 { font-size: 1rem; margin: 1.25rem 0 .25rem; color: var(--muted); }
p { margin: .5rem 0; }
.context { color: var(--muted); font-size: .9rem; overflow-wrap: anywhere; }
nav ol { padding-left: 1.25rem; margin: .5rem 0; }
nav a { overflow-wrap: anywhere; }
.verdict { border-left: 4px solid var(--fg); background: var(--bg-soft); padding: .75rem 1rem; margin: 1rem 0;
  border-radius: 0 6px 6px 0; }
.verdict h3 { margin: 0 0 .25rem; font-size: 1rem; }
ol.findings { padding-left: 2.2rem; margin: .25rem 0 .75rem; }
ol.findings li { margin: .5rem 0; overflow-wrap: anywhere; }
.sev { display: inline-block; font-size: .72rem; font-weight: 700; text-transform: uppercase;
  letter-spacing: .03em; border-radius: 999px; padding: 0 .5rem; margin-right: .35rem; border: 1px solid;
  vertical-align: .1em; white-space: nowrap; }
.sev-info { color: var(--info); } .sev-warning { color: var(--warning); }
.sev-critical { color: var(--critical); } .sev-undetermined { color: var(--undetermined); }
.suggestion { display: block; margin-top: .2rem; color: #1a7f37; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em;
  background: var(--bg-soft); padding: .05rem .25rem; border-radius: 4px; overflow-wrap: anywhere; }
figure { margin: 1.25rem 0 2rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .88rem; margin-top: .4rem; }
figcaption strong { color: var(--fg); }
details { margin: .75rem 0; border: 1px solid var(--line); border-radius: 6px; }
summary { cursor: pointer; padding: .5rem .75rem; font-weight: 600; background: var(--bg-soft);
  border-radius: 6px; }
details[open] summary { border-bottom: 1px solid var(--line); border-radius: 6px 6px 0 0; }
.caption { color: var(--muted); font-size: .85rem; padding: .25rem .75rem 0; margin: 0; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; padding: .5rem .75rem .75rem; }
table { border-collapse: collapse; font-size: .82rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #fff; position: sticky; top: 0; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.text { min-width: 16rem; max-width: 40rem; }
tr.marker td { color: var(--muted); font-style: italic; background: var(--bg-soft); }
.notes { color: var(--muted); font-size: .88rem; }
footer { color: var(--muted); font-size: .8rem; margin-top: 3rem; border-top: 1px solid var(--line);
  padding-top: .75rem; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  main { padding: 1rem .75rem 2rem; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.15rem; }
  ol.findings { padding-left: 1.6rem; }
  .verdict { padding: .6rem .75rem; }
  .scroll { padding: .4rem .4rem .6rem; }
  td.text { min-width: 12rem; }
}
@media print { details { border: none; } summary { background: none; } }
"""


def esc(text: object) -> str:
    """Escape any text for HTML content and attribute values.

    >>> esc('<script>alert("x")</script> & co')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co'
    """
    return html.escape(str(text), quote=True)


def render_html(doc: Document) -> str:
    """The whole document as one HTML string."""
    from dynamics import __version__

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(doc.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{esc(doc.title)}</h1>",
    ]
    if len(doc.sections) > 1:
        parts.append("<nav><ol>")
        parts += [f'<li><a href="#{s.anchor}">{esc(s.title)}</a></li>' for s in doc.sections]
        parts.append("</ol></nav>")
    for section in doc.sections:
        parts += section_html(section, single=len(doc.sections) == 1)
    parts.append(f"<footer>Made by dynamics {esc(__version__)}. Self-contained: no script, nothing fetched."
                 "</footer>")
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


def section_html(s: Section, *, single: bool) -> list[str]:
    """One section as lines of HTML: the verdict, numbered findings, figures, notes and tables (each escaped)."""
    out = [f'<section id="{esc(s.anchor)}">']
    if not single:
        out.append(f"<h2>{esc(s.title)}</h2>")
    out.append(f'<p class="context">{esc(s.context)}</p>')
    out.append('<div class="verdict"><h3>Verdict</h3>')
    out += [f"<p>{esc(p)}</p>" for p in s.verdict]
    out.append("</div>")
    if s.findings:
        out.append("<h3>Findings</h3>")
        for topic, items in s.findings:
            out.append(f"<h4>{esc(topic)}</h4>")
            out.append('<ol class="findings">')
            for item in items:
                f = item.finding
                sev = f.severity if f.severity in SEVERITY_WORDS else "info"
                line = (f'<li value="{item.number}"><span class="sev sev-{sev}">{esc(SEVERITY_WORDS[sev])}</span>'
                        f"{esc(f.claim)}")
                if f.suggestion:
                    line += f'<span class="suggestion">Suggestion: {esc(f.suggestion)}</span>'
                out.append(line + "</li>")
            out.append("</ol>")
    if s.figures:
        out.append("<h3>Plots</h3>")
        out += [_figure(fig, s.anchor) for fig in s.figures]
    if s.notes:
        out += [f'<p class="notes">{esc(note)}</p>' for note in s.notes]
    if s.tables:
        out.append("<h3>Tables</h3>")
        out += [_table(t) for t in s.tables]
    out.append("</section>")
    return out


def _figure(fig: RenderedFigure, anchor: str) -> str:
    width, height = fig.size
    data = base64.b64encode(fig.png).decode("ascii")
    return (
        f'<figure id="{esc(anchor)}-{esc(fig.key)}">'
        f'<img src="data:image/png;base64,{data}" alt="{esc(fig.title)}" width="{width}" height="{height}">'
        f"<figcaption><strong>{esc(fig.title)}.</strong> {esc(fig.caption)}</figcaption></figure>"
    )


def _table(t: TableSpec) -> str:
    head = "".join(f'<th class="{"num" if n else "txt"}">{esc(c)}</th>' for c, n in zip(t.columns, t.numeric))
    rows = []
    for i, row in enumerate(t.rows):
        if i in t.marker_rows:
            rows.append(f'<tr class="marker"><td>{esc(row[0])}</td><td colspan="{max(len(row) - 1, 1)}">'
                        f"{esc(row[1] if len(row) > 1 else '')}</td></tr>")
            continue
        cells = []
        for value, numeric, column in zip(row, t.numeric, t.columns):
            cls = "num" if numeric else ("text" if column == "text" else "txt")
            cells.append(f'<td class="{cls}">{esc(value)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f'<p class="caption">{esc(t.caption)}</p>' if t.caption else ""
    return (
        f'<details{" open" if t.open else ""}><summary>{esc(t.title)} ({len(t.rows) - len(t.marker_rows)} rows)'
        f"</summary>{caption}<div class=\"scroll\"><table><thead><tr>{head}</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div></details>"
    )


def write_html(doc: Document, path: str | Path) -> Path:
    """Write the document to ``path`` (UTF-8), replacing the file atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(doc), encoding="utf-8")
    tmp.replace(path)
    return path
