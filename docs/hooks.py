"""MkDocs hook: reference pages generated from the code, so they cannot disagree with it.

- ``<!-- openapi -->`` (``docs/reference/http.md``) becomes one section per endpoint,
  from ``searchlib.openapi.OPENAPI`` (the document ``GET /openapi.json`` serves);
- ``<!-- cli -->`` (``docs/reference/cli.md``) becomes one section per command of the
  ``search`` group, with its ``--help`` exactly as click prints it.
"""

from __future__ import annotations

import json
from typing import Any

OPENAPI_MARKER = "<!-- openapi -->"
CLI_MARKER = "<!-- cli -->"
HELP_WIDTH = 76


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_openapi(spec: dict[str, Any]) -> str:
    """Markdown for every path and method of an OpenAPI 3 document."""
    out: list[str] = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            out.append(f"### `{method.upper()} {path}`\n")
            out.append(f"{operation.get('summary', '')}.\n")
            if operation.get("description"):
                out.append(f"{operation['description']}\n")
            params = operation.get("parameters", [])
            if params:
                out.append("| parameter | in | type | required | meaning |")
                out.append("|---|---|---|---|---|")
                for p in params:
                    schema = p.get("schema", {})
                    kind = schema.get("type", "")
                    if "default" in schema:
                        kind += f" (default {json.dumps(schema['default'])})"
                    out.append(
                        f"| `{p['name']}` | {p['in']} | {_cell(kind)} | "
                        f"{'yes' if p.get('required') else 'no'} | "
                        f"{_cell(p.get('description', ''))} |"
                    )
                out.append("")
            body = operation.get("requestBody")
            if body:
                kinds = ", ".join(f"`{k}`" for k in body.get("content", {}))
                out.append(f"Request body: {kinds}.\n")
            out.append("| status | response |")
            out.append("|---|---|")
            for status, response in operation.get("responses", {}).items():
                out.append(f"| {status} | {_cell(response.get('description', ''))} |")
            out.append("")
    return "\n".join(out)


def _commands(group: Any, ctx: Any) -> list[tuple[str, Any, Any]]:
    """(full name, command, its context) of ``group`` and every command under it."""
    import click

    found = [(ctx.command_path, group, ctx)]
    if isinstance(group, click.Group):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            child = click.Context(command, info_name=name, parent=ctx)
            found.extend(_commands(command, child))
    return found


def render_cli() -> str:
    """Markdown for the ``search`` command: a table of commands, then each one's help."""
    import click

    from searchlib.cli import cli

    root = click.Context(cli, info_name="search", max_content_width=HELP_WIDTH)
    root.terminal_width = HELP_WIDTH
    commands = _commands(cli, root)
    out = ["| command | what it does |", "|---|---|"]
    for path, command, _ in commands[1:]:
        anchor = path.replace(" ", "-")
        out.append(f"| [`{path}`](#{anchor}) | {_cell(command.get_short_help_str(120))} |")
    out.append("")
    for path, command, ctx in commands:
        anchor = path.replace(" ", "-")
        out.append(f"### `{path}` {{#{anchor}}}\n")
        out.append("```text")
        out.append(command.get_help(ctx).rstrip())
        out.append("```\n")
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if OPENAPI_MARKER in markdown:
        from searchlib.openapi import OPENAPI

        markdown = markdown.replace(OPENAPI_MARKER, render_openapi(OPENAPI))
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, render_cli())
    return markdown
