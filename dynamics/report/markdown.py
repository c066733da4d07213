"""A :class:`~dynamics.report.document.Document` as GitHub-flavoured Markdown, images beside it.

``write_markdown(doc, "report.md")`` writes ``report.md`` and the figures as
PNG files in ``report_files/``, referenced by relative paths. The verdict and
the numbered findings come first, ready to paste into a GitHub issue; long
tables are shortened (first and last rows) and folded in ``<details>``.

Strings from a log or a run are neutralised by :func:`md_text`: HTML is
escaped, Markdown punctuation that could start emphasis, links, tables, code
or math is backslash-escaped, and ``@name`` cannot mention anyone.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

from dynamics.report.document import SEVERITY_WORDS, Document, Section
from dynamics.report.tables import TableSpec, shorten

_PUNCT = re.compile(r"([\\`*_\[\]|~$])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")


def md_text(text: object) -> str:
    """Neutralise a string for Markdown: one line, no HTML, no markup, no mentions.

    >>> md_text("val_<script>alert(1)</script> & *x* | @team")
    'val\\\\_&lt;script&gt;alert(1)&lt;/script&gt; &amp; \\\\*x\\\\* \\\\| @&#8203;team'
    """
    s = " ".join(str(text).split())
    s = html.escape(s, quote=False)
    s = _PUNCT.sub(r"\\\1", s)
    return _MENTION.sub("@&#8203;", s)


def files_dir(path: str | Path) -> Path:
    """The folder beside ``report.md`` that holds its images: ``report_files``."""
    path = Path(path)
    return path.with_name(path.stem + "_files")


def render_markdown(doc: Document, image_dir: str = "report_files") -> tuple[str, dict[str, bytes]]:
    """The Markdown text and the images it references (relative name -> PNG bytes)."""
    images: dict[str, bytes] = {}
    lines = [f"# {md_text(doc.title)}", ""]
    if len(doc.sections) > 1:
        lines += [f"{i}. [{md_text(s.title)}](#{_slug(s, i)})" for i, s in enumerate(doc.sections, 1)] + [""]
    for i, section in enumerate(doc.sections, 1):
        lines += _section(section, i, image_dir, images, single=len(doc.sections) == 1)
    from dynamics import __version__

    lines += ["---", f"<sub>Made by dynamics {md_text(__version__)}.</sub>", ""]
    return "\n".join(lines), images


def _slug(s: Section, i: int) -> str:
    # GitHub's heading anchors: lower case, spaces to hyphens, punctuation dropped.
    title = f"{i} {s.title}".lower()
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def _section(s: Section, index: int, image_dir: str, images: dict[str, bytes], *, single: bool) -> list[str]:
    out: list[str] = []
    if not single:
        out += [f"## {index} {md_text(s.title)}", ""]
    out += [f"*{md_text(s.context)}*", ""]
    out += ["### Verdict", ""]
    for p in s.verdict:
        out += [f"> {md_text(p)}", ">"]
    out[-1] = ""
    if s.findings:
        out += ["### Findings", ""]
        for topic, items in s.findings:
            out += [f"**{md_text(topic)}**", ""]
            for item in items:
                f = item.finding
                prefix = f"{item.number}. "
                word = SEVERITY_WORDS.get(f.severity, f.severity)
                # A backslash at the end of a line is a hard line break: the suggestion goes below the claim.
                out.append(f"{prefix}**{md_text(word)}**: {md_text(f.claim)}" + ("\\" if f.suggestion else ""))
                if f.suggestion:
                    out.append(" " * len(prefix) + f"*Suggestion:* {md_text(f.suggestion)}")
            out.append("")
    if s.figures:
        out += ["### Plots", ""]
        for fig in s.figures:
            name = f"{s.anchor}-{fig.key}.png"
            images[name] = fig.png
            out += [f"![{md_text(fig.title)}]({quote(image_dir)}/{quote(name)})", "",
                    f"*{md_text(fig.title)}.* {md_text(fig.caption)}", ""]
    for note in s.notes:
        out += [f"*{md_text(note)}*", ""]
    if s.tables:
        out += ["### Tables", ""]
        for t in s.tables:
            out += _table(t)
    return out


def _table(t: TableSpec) -> list[str]:
    total = len(t.rows) - len(t.marker_rows)
    short = shorten(t)
    summary = _MENTION.sub("@&#8203;", html.escape(f"{t.title} ({total} rows)"))
    out = [f"<details{' open' if t.open else ''}><summary>{summary}</summary>", ""]
    if t.caption:
        out += [md_text(t.caption), ""]
    out.append("| " + " | ".join(md_text(c) for c in short.columns) + " |")
    out.append("|" + "|".join("---:" if n else ":---" for n in short.numeric) + "|")
    for i, row in enumerate(short.rows):
        cells = [md_text(v) for v in row]
        if i in short.marker_rows:
            cells = [f"*{c}*" if c else "" for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    return out + ["", "</details>", ""]


def write_markdown(doc: Document, path: str | Path) -> Path:
    """Write ``path`` and its images into ``<stem>_files/`` beside it; return the Markdown path."""
    path = Path(path)
    folder = files_dir(path)
    text, images = render_markdown(doc, folder.name)
    if images:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in images.items():
            (folder / name).write_bytes(data)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
