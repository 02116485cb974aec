"""Terminal rendering for the ``search`` command: hits with highlighted snippets, tokens.

Article text is printed through ``clean_text`` so control characters in an article
cannot drive the terminal.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

import searchlib
from searchlib.query.snippets import clean_text

__all__ = ["render_hit", "token_dict"]

INDENT = 3  # a hit's lines start under its title's text


def _print_indented(console: Console, text: Text) -> None:
    """``text`` wrapped to the console, every line indented, no trailing blanks."""
    for line in text.wrap(console, max(console.width - INDENT, 20)):
        line.rstrip()
        console.print(Text(" " * INDENT) + line)


def render_hit(console: Console, hit: searchlib.Hit, explain: bool) -> None:
    title = Text(f"{hit.rank}. ", style="bold")
    start = len(title)
    title.append(clean_text(hit.title or hit.id), style="bold cyan")
    if hit.title and hit.title_snippet is not None:
        for span_start, span_end in hit.title_snippet.spans:
            title.stylize("bold yellow", start + span_start, start + span_end)
    console.print(title)
    meta = [
        clean_text(v) for v in (hit.source, (hit.published or "")[:10], hit.category, hit.url) if v
    ]
    meta.append(f"id {clean_text(hit.id)}")
    meta.append(f"score {hit.score:.3f}")
    if explain and hit.recency is not None:
        meta.append(f"recency x{hit.recency:.3f}")
    _print_indented(console, Text(" · ".join(meta), style="dim"))
    if hit.duplicates:
        sources = sorted({clean_text(copy.source) for copy in hit.duplicates if copy.source})
        also = f" ({', '.join(sources)})" if sources else ""
        count = len(hit.duplicates)
        line = f"+ {count} {'copy' if count == 1 else 'copies'}{also}: search duplicates {hit.id}"
        _print_indented(console, Text(clean_text(line), style="dim"))
    if hit.snippet is not None and hit.snippet.fragment:
        snippet = Text(hit.snippet.fragment)
        for start, end in hit.snippet.spans:
            snippet.stylize("bold yellow", start, end)
        _print_indented(console, snippet)
    if explain and hit.explanation:
        table = Table(
            "term",
            "tf by field",
            "tf",
            "df",
            "idf",
            "len",
            "avgdl",
            "boost",
            "score",
            box=None,
            padding=(0, 1),
            show_edge=False,
        )
        for part in hit.explanation:
            table.add_row(
                part.term,
                " ".join(f"{name}={tf:g}" for name, tf in part.field_tf.items()),
                f"{part.tf:g}",
                str(part.doc_freq),
                f"{part.idf:.3f}",
                f"{part.length:g}",
                f"{part.avg_length:.1f}",
                f"{part.boost:g}",
                f"{part.score:.3f}",
            )
        console.print(table)
    console.print()


def token_dict(token: searchlib.Token) -> dict[str, Any]:
    return {
        "text": token.text,
        "term": token.term,
        "norm": token.norm,
        "start": token.start,
        "end": token.end,
        "position": token.position,
        "why": token.why,
        "stopword": token.why == "stopword" or token.stopword,
    }
