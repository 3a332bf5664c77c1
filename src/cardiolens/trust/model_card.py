"""Model card in Markdown and HTML following the TRIPOD+AI reporting items.

TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) asks a prediction-model report to
state the source of data, participants, outcome, predictors, sample size and missing
data, the modelling and tuning, performance with confidence intervals, performance in
subgroups (fairness), intended use and limitations, and how to access the model. The
card is built from a list of sections so that the Markdown and HTML carry the same
content.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

Block = str | pd.DataFrame


@dataclass(frozen=True)
class ModelCard:
    """A model card: title plus ordered ``(heading, blocks)`` sections.

    A block is a paragraph (str, Markdown-free plain text) or a table (DataFrame).
    """

    title: str
    sections: list[tuple[str, list[Block]]] = field(default_factory=list)

    def to_markdown(self) -> str:
        """Render as GitHub-flavoured Markdown."""
        lines = [f"# {self.title}", ""]
        for heading, blocks in self.sections:
            lines += [f"## {heading}", ""]
            for block in blocks:
                lines += [_markdown_table(block) if isinstance(block, pd.DataFrame) else block, ""]
        return "\n".join(lines)

    def to_html(self) -> str:
        """Render as a standalone HTML page."""
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for heading, blocks in self.sections:
            body.append(f"<h2>{html.escape(heading)}</h2>")
            for block in blocks:
                if isinstance(block, pd.DataFrame):
                    body.append(
                        block.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=1)
                    )
                else:
                    body.append(f"<p>{html.escape(block)}</p>")
        style = "body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}td,th{padding:2px 6px}"
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{style}</style></head>\n"
            f"<body>\n{chr(10).join(body)}\n</body></html>\n"
        )

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``model_card.md`` and ``model_card.html`` into a directory."""
        directory = Path(directory)
        markdown, page = directory / "model_card.md", directory / "model_card.html"
        markdown.write_text(self.to_markdown())
        page.write_text(self.to_html())
        return markdown, page


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|")


def _markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
