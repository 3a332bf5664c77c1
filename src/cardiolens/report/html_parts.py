"""Small HTML builders shared by the report page's sections (escaped text, tables, lists)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["bullet_list", "e", "key_values", "number", "table"]


def e(value: Any) -> str:
    return html.escape(str(value))


def number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return e(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1) -> str:
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{e(h)}</th>' for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"l" if i < left else ""}">{cell}</td>' for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def bullet_list(items: Iterable[str], css_class: str = "") -> str:
    entries = "".join(f'<li class="{css_class}">{e(i)}</li>' for i in items)
    return f"<ul>{entries}</ul>" if entries else "<p>None.</p>"


def key_values(rows: Iterable[tuple[str, Any]], css_class: str = "kv") -> str:
    """A two-column table of label and value; ``None`` values are left out."""
    body = "".join(
        f'<tr><th class="l">{e(label)}</th><td class="l">{e(value)}</td></tr>'
        for label, value in rows
        if value is not None and value != ""
    )
    return f'<table class="{css_class}">{body}</table>' if body else ""
