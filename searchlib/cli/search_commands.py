"""``search query`` (the default command) and ``search similar``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.text import Text

from searchlib.cli import (
    EXIT_ERROR,
    CliState,
    cli,
    fail,
)
from searchlib.cli.render import render_hit
from searchlib.engine.signature import DEFAULT_SIMILARITY
from searchlib.errors import SearchlibError
from searchlib.query.collectors import FACET_FIELDS
from searchlib.query.ranking import FRESH_RANKING
from searchlib.query.snippets import clean_text


@cli.command("query")
@click.argument("words", nargs=-1, required=True)
@click.option(
    "-n",
    "--limit",
    default=10,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Hits per page.",
)
@click.option("--page", default=1, show_default=True, type=click.IntRange(1), help="Page number.")
@click.option("--category", multiple=True, help="Only this category (repeatable).")
@click.option("--source", multiple=True, help="Only this source (repeatable).")
@click.option("--since", metavar="DATE", help="Published on or after (YYYY[-MM[-DD]]).")
@click.option("--until", metavar="DATE", help="Published on or before (YYYY[-MM[-DD]]).")
@click.option(
    "--sort",
    type=click.Choice(["relevance", "newest", "oldest"]),
    default="relevance",
    show_default=True,
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Blend recency into relevance: near-ties go to the newer article.",
)
@click.option(
    "--collapse/--no-collapse",
    default=True,
    show_default=True,
    help="One hit per group of syndicated copies (the best), the others listed with it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--explain", is_flag=True, help="Show each hit's per-term, per-field scores.")
@click.option("--facets", is_flag=True, help="Show counts by category and source.")
@click.option("--fail-empty", is_flag=True, help="Exit with 1 when nothing matches.")
@click.option("--no-synonyms", is_flag=True, help="Search the words as typed (no synonyms).")
@click.pass_obj
def query_command(
    state: CliState,
    words: tuple[str, ...],
    limit: int,
    page: int,
    category: tuple[str, ...],
    source: tuple[str, ...],
    since: str | None,
    until: str | None,
    sort: str,
    fresh: bool,
    collapse: bool,
    as_json: bool,
    explain: bool,
    facets: bool,
    fail_empty: bool,
    no_synonyms: bool,
) -> None:
    """Search the index: ranked hits with highlighted snippets.

    \b
    Syntax: words (any may match), "a phrase", +must, -not, AND/OR/NOT, (groups),
    title:word, category:olahraga, source:antara, prefix*, fuzzy~,
    published:2021-08, published:[2021-01-01 TO 2021-06-30].
    \b
    Examples:
      search "evakuasi Kabul"
      search query '"penerbangan evakuasi" -taliban' --json
      search query rusia --category internasional --since 2021-08 --sort newest
    """
    text = " ".join(words)
    filters: dict[str, Any] = {}
    if category:
        filters["category"] = list(category)
    if source:
        filters["source"] = list(source)
    try:
        with state.open() as index:
            results = index.search(
                text,
                limit=limit,
                offset=(page - 1) * limit,
                filters=filters or None,
                since=since,
                until=until,
                sort=sort,
                ranking=FRESH_RANKING if fresh else None,
                explain=explain,
                # Collected only for what is shown: facets with --facets (and in JSON).
                facets=FACET_FIELDS if facets or as_json else None,
                suggest=True,
                synonyms=not no_synonyms,
                collapse=collapse,
            )
    except SearchlibError as exc:
        fail(exc, state.path)
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, default=str))
    else:
        console = state.console
        if results.suggestion:
            console.print(Text(f"Did you mean: {clean_text(results.suggestion)}", style="italic"))
        shown = f"{results.offset + 1}-{results.offset + len(results)}" if results.hits else "0"
        console.print(
            Text(
                f"{'at least ' if results.total_relation == 'gte' else ''}{results.total} "
                f"{'result' if results.total == 1 else 'results'}, showing {shown} "
                f"({results.took_ms:.1f} ms)",
                style="dim",
            )
        )
        if explain:
            console.print(
                Text(f"{results.total} matched, {results.scored} scored (pruning)", style="dim")
            )
            for typed, entries in results.synonyms.items():
                also = " | ".join(clean_text(e) for e in entries)
                console.print(Text(f"synonyms: {clean_text(typed)} -> {also}", style="dim"))
        console.print()
        for hit in results:
            render_hit(console, hit, explain)
        if facets:
            for name, counts in results.facets.items():
                line = ", ".join(f"{clean_text(k)} ({v})" for k, v in counts.items()) or "-"
                console.print(Text(f"{name}: {line}"))
    if fail_empty and not results.total:
        sys.exit(EXIT_ERROR)


@cli.command("similar")
@click.argument("doc_id")
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def similar_command(state: CliState, doc_id: str, limit: int, as_json: bool) -> None:
    """Articles most like the given one.

    \b
    Example:
      search similar 000_222d11a223a65e09
    """
    try:
        with state.open() as index:
            results = index.similar(doc_id, limit=limit)
    except SearchlibError as exc:
        fail(exc, state.path)
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, default=str))
        return
    state.console.print(Text(f"{results.total} similar articles", style="dim"))
    for hit in results:
        render_hit(state.console, hit, False)


@cli.command("duplicates")
@click.argument("doc_id")
@click.option(
    "--similarity",
    default=DEFAULT_SIMILARITY,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="The share of word 3-shingles a copy has in common (estimated).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def duplicates_command(state: CliState, doc_id: str, similarity: float, as_json: bool) -> None:
    """Near-duplicates of an article: syndicated copies, most similar first.

    \b
    Example:
      search duplicates 000_222d11a223a65e09
    """
    try:
        with state.open() as index:
            copies = index.duplicates(doc_id, similarity=similarity)
    except SearchlibError as exc:
        fail(exc, state.path)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in copies], ensure_ascii=False))
        return
    state.console.print(Text(f"{len(copies)} copies of {clean_text(doc_id)}", style="dim"))
    for copy in copies:
        meta = [clean_text(v) for v in (copy.source, (copy.published or "")[:10]) if v]
        line = Text(clean_text(copy.id))
        line.append(f"  {' · '.join([*meta, f'similarity {copy.similarity:.2f}'])}", style="dim")
        state.console.print(line)


@cli.command("complete")
@click.argument("text", nargs=-1)
@click.option("-n", "--limit", default=8, show_default=True, type=click.IntRange(0, 50))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def complete_command(state: CliState, text: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Complete a query as it is typed: its last word, then whole titles.

    \b
    Examples:
      search complete "banjir jak"
      search complete "harga b" --json
    """
    typed = " ".join(text)
    try:
        with state.open() as index:
            found = index.complete(typed, limit)
    except SearchlibError as exc:
        fail(exc, state.path)
    if as_json:
        click.echo(json.dumps(found.to_dict(), ensure_ascii=False))
        return
    for word in found.words:
        line = Text(clean_text(word.text))
        line.append(f"  {word.count} articles", style="dim")
        if word.together:
            line.append(f", {word.together} with the words before", style="dim")
        state.console.print(line)
    for title in found.titles:
        state.console.print(Text(f"» {clean_text(title.title)}  (id {clean_text(title.id)})"))
    if not found.words and not found.titles:
        state.console.print(Text("no completions", style="dim"))
