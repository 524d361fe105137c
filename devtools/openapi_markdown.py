"""Render an OpenAPI 3 schema (drf-spectacular's) as one Markdown page for the docs site.

Operations are grouped by tag, each with its parameters, request body and responses; every
component schema follows with its fields. Types link to their schema on the same page.
"""

from __future__ import annotations

import re
from collections import defaultdict

METHODS = ("get", "post", "put", "patch", "delete")


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _cell(text: str | None) -> str:
    """One table cell: drf-spectacular's enum bullet lists ("* `a` - A") become "; "-separated."""
    text = re.sub(r"\n\s*\* ", "; ", text or "").lstrip("; *")
    return " ".join(text.split()).replace("|", "\\|")


def type_of(schema: dict | None) -> str:
    """A short, linked description of a schema: `integer`, [Team](#...), array of ..."""
    if not schema:
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    for combiner in ("allOf", "oneOf", "anyOf"):
        if combiner in schema:
            parts = [type_of(part) for part in schema[combiner]]
            joined = " or ".join(p for p in parts if p)
            return joined + (" or null" if schema.get("nullable") else "")
    kind = schema.get("type", "object")
    if kind == "array":
        text = f"array of {type_of(schema.get('items'))}"
    elif "enum" in schema:
        text = " \\| ".join(f"`{value}`" for value in schema["enum"] if value not in ("", None)) or '`""`'
    else:
        text = f"`{kind}`"
        if schema.get("format"):
            text += f" ({schema['format']})"
    if schema.get("nullable"):
        text += " or null"
    return text


def _body(content: dict | None) -> str:
    if not content:
        return ""
    media, detail = next(iter(content.items()))
    shown = type_of(detail.get("schema")) if detail.get("schema") else ""
    return f"{shown} (`{media}`)" if shown else f"`{media}`"


def _operation(path: str, method: str, operation: dict) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if operation.get("deprecated"):
        lines += ['!!! warning "Deprecated"', ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    lines += [f"Operation id: `{operation.get('operationId', '')}`", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for parameter in parameters:
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | {type_of(parameter.get('schema'))} | "
                f"{'yes' if parameter.get('required') else 'no'} | {_cell(parameter.get('description'))} |"
            )
        lines.append("")
    if operation.get("requestBody"):
        lines += [f"**Request body**: {_body(operation['requestBody'].get('content'))}", ""]
    responses = operation.get("responses", {})
    if responses:
        lines += ["| status | body | meaning |", "|---|---|---|"]
        for status, response in responses.items():
            lines.append(
                f"| {status} | {_body(response.get('content'))} | {_cell(response.get('description'))} |"
            )
        lines.append("")
    return lines


def _component(name: str, schema: dict) -> list[str]:
    lines = [f"### {name} {{ #{_anchor(name)} }}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    if "enum" in schema:
        lines += ["One of: " + ", ".join(f"`{value}`" for value in schema["enum"]), ""]
        return lines
    properties = schema.get("properties")
    if not properties:
        shown = type_of({k: v for k, v in schema.items() if k != "description"})
        return [*lines, f"Type: {shown}", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | notes |", "|---|---|---|---|"]
    for field, spec in properties.items():
        notes = []
        if spec.get("readOnly"):
            notes.append("read-only")
        if spec.get("writeOnly"):
            notes.append("write-only")
        if "maxLength" in spec:
            notes.append(f"at most {spec['maxLength']} characters")
        if spec.get("description"):
            notes.append(_cell(spec["description"]))
        lines.append(
            f"| `{field}` | {type_of(spec)} | {'yes' if field in required else 'no'} | {'; '.join(notes)} |"
        )
    lines.append("")
    return lines


def render(schema: dict, *, schema_file: str) -> str:
    info = schema.get("info", {})
    by_tag: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
    count = 0
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag[tag].append((path, method, item[method]))
                count += 1
    lines = [
        "# API reference",
        "",
        '!!! info "Generated from the code at every docs build"',
        f"    This page is rendered from the OpenAPI schema the portal serves at `/api/v1/schema/`"
        f" ({info.get('title', '')} version {info.get('version', '')}: {count} operations), produced by"
        f" `manage.py spectacular` when the docs are built. Download it as [{schema_file}]({schema_file});"
        " a running portal also serves it with Swagger UI at `/api/v1/docs/` and ReDoc at `/api/v1/redoc/`.",
        "",
        _cell(info.get("description")),
        "",
    ]
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for path, method, operation in by_tag[tag]:
            lines += _operation(path, method, operation)
    lines += ["## Schemas", ""]
    for name, component in sorted(schema.get("components", {}).get("schemas", {}).items()):
        lines += _component(name, component)
    return "\n".join(lines) + "\n"
