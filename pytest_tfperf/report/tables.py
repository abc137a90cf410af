"""The one table builder of each format: terminal (`fit_table`), Markdown (`markdown_table`),
HTML (`html_table`). Renderers build rows of cells (already formatted by `wording`) and hand
them here; nothing else lays a table out.

Terminal: a table is laid out one line per row when it fits `width`; if not, the part of the
test ids every row shares is said once above the table; if it still does not fit, each row
takes two lines: what identifies it (test, model, input; wrapped, never cut) and, indented
below, its numbers. Cells are never cut: at 160 columns a row reads in full.
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from pytest_tfperf.wording import MISSING

__all__ = ["GAP", "INDENT", "Id", "WIDTH", "common_prefix", "escape", "fit_table", "html_table",
           "id_html", "markdown_cell", "markdown_table", "wrap_id"]

# -- terminal ----------------------------------------------------------------------------------
WIDTH = 100  # the width when the caller has no terminal to ask (pytest passes its own)
GAP = "  "
INDENT = "    "
NBSP = "\u00a0"  # holds a cell's words together while a row's identity is wrapped


def common_prefix(labels: Sequence[str]) -> str:
    """The start every label shares, up to its last '::' or '/' ('' for fewer than two labels).

    Each label keeps a non-empty rest: `tests/a.py::test_x` and `tests/a.py::test_y` share
    `tests/a.py::`.
    """
    labels = [str(x) for x in labels]
    if len(labels) < 2:
        return ""
    shared = labels[0]
    for label in labels[1:]:
        while not label.startswith(shared):
            shared = shared[:-1]
    cut = max(shared.rfind("::") + 2 if "::" in shared else 0, shared.rfind("/") + 1)
    shared = shared[:cut]
    return shared if all(len(x) > len(shared) for x in labels) else ""


def wrap_id(text: str, width: int, indent: str = INDENT) -> list[str]:
    """`text` in lines of at most `width` columns, broken after spaces, '::' or '/' (a test id
    splits between its file and its name), never losing a character; continuation lines
    start with `indent`. A piece longer than a whole line is split inside, as a last resort."""
    pieces = [p for p in re.split(r"(?<=::)|(?<=/)|(?<= )", text) if p]
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current.strip() and len(current) + len(piece.rstrip()) > width:
            lines.append(current.rstrip())
            current = indent
        while len(current) + len(piece.rstrip()) > width:  # longer than a fresh line: split inside
            cut = max(width - len(current), 1)
            lines.append(current + piece[:cut])
            current, piece = indent, piece[cut:]
        current += piece
    if current.strip():
        lines.append(current.rstrip())
    return lines or [text]


def _cell(value: Any) -> str:
    return MISSING if value is None else str(value)


def _widths(headers: Sequence[str], rows: list[list[str]], cols: Sequence[int]) -> list[int]:
    return [max([len(headers[c])] + [len(r[c]) for r in rows]) for c in cols]


def _line(cells: Sequence[str], widths: Sequence[int], left: Sequence[bool], gap: str = GAP) -> str:
    return gap.join(c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(cells, widths, left)).rstrip()


def _one_line_table(headers, rows, keys: int, width: int) -> list[str] | None:
    """One line per row, or None when the widest row is wider than `width`."""
    cols = range(len(headers))
    widths = _widths(headers, rows, cols)
    if sum(widths) + len(GAP) * (len(widths) - 1) > width:
        return None
    left = [c < keys for c in cols]
    lines = [_line(headers, widths, left), GAP.join("-" * w for w in widths)]
    return lines + [_line(r, widths, left) for r in rows]


def _two_line_table(headers, rows, keys: int, width: int) -> list[str]:
    """Each row as its identifying cells (aligned if they fit, else wrapped at spaces, never
    cut) and, indented below, its value cells."""
    key_cols, value_cols = list(range(keys)), list(range(keys, len(headers)))
    kw, vw = _widths(headers, rows, key_cols), _widths(headers, rows, value_cols)
    aligned = sum(kw) + len(GAP) * (len(kw) - 1) <= width

    def key_lines(cells):
        if aligned:
            return [_line(cells, kw, [True] * len(kw))]
        # a cell breaks only at '::' or '/' (a test id), never at its own spaces ('... float32')
        cells = [c.replace(" ", NBSP) for c in cells if c and c != MISSING]
        return [x.replace(NBSP, " ") for x in wrap_id(GAP.join(cells) or MISSING, width)]

    # the numbers line: two spaces between columns, one where two do not fit
    gap = GAP if len(INDENT) + sum(vw) + len(GAP) * (len(vw) - 1) <= width else " "

    def values(cells):
        return INDENT + _line(cells, vw, [False] * len(vw), gap)

    head = key_lines([headers[c] for c in key_cols]) + [values([headers[c] for c in value_cols])]
    rule = "-" * min(width, max(len(x) for x in head))
    lines = head + [rule]
    for r in rows:
        lines += key_lines([r[c] for c in key_cols]) + [values([r[c] for c in value_cols])]
    return lines


def fit_table(headers: Sequence[str], rows: list[Sequence[Any]], *, keys: int = 1,
              width: int = WIDTH, id_col: int | None = 0,
              id_note: str = "test ids below start with") -> list[str]:
    """Lay out `rows` in `width` columns without cutting any cell.

    Args:
        headers: column titles; the first `keys` columns identify a row (left-aligned), the
            others are values (right-aligned).
        rows: the cells (None shows as "-").
        keys: how many leading columns identify a row.
        width: the terminal width (pytest's).
        id_col: the column of test ids whose shared start may be said once above the table
            (None: no such column).
        id_note: the words before that shared start.

    Returns:
        The lines: one per row when they fit; else with what every row shares said once above
        the table (`id_note tests/test_x.py::`, `every row: model alexnet.pb`) and one line per
        row if that fits; else two lines per row (`_two_line_table`).
    """
    headers = [str(h) for h in headers]
    rows = [[_cell(c) for c in r] for r in rows]
    lines = _one_line_table(headers, rows, keys, width)
    if lines is not None:
        return lines
    pre: list[str] = []
    prefix = common_prefix([r[id_col] for r in rows]) if id_col is not None else ""
    if prefix:
        pre.append(f"{id_note} {prefix}")
        rows = [[c[len(prefix):] if i == id_col else c for i, c in enumerate(r)] for r in rows]
    same = [c for c in range(keys) if c != id_col and len(rows) > 1
            and len({r[c] for r in rows}) == 1 and rows[0][c] != MISSING]
    if same:  # a model or input every row shares is said once
        pre.append("every row: " + ", ".join(f"{headers[c]} {rows[0][c]}" for c in same))
        headers = [h for i, h in enumerate(headers) if i not in same]
        rows = [[x for i, x in enumerate(r) if i not in same] for r in rows]
        keys -= len(same)
    lines = _one_line_table(headers, rows, keys, width) if pre else None
    pre = [x for line in pre for x in wrap_id(line, width)]
    return pre + (lines if lines is not None else _two_line_table(headers, rows, keys, width))


# -- Markdown ----------------------------------------------------------------------------------
def markdown_cell(value: Any) -> str:
    """A cell's text with Markdown's table syntax escaped ('-' for None)."""
    text = MISSING if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: list[Sequence[Any]],
                   right: Sequence[int] = ()) -> list[str]:
    """A GitHub-flavoured table (the columns in `right` right-aligned), then a blank line."""
    sep = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


# -- HTML --------------------------------------------------------------------------------------
def escape(value: Any) -> str:
    """HTML-escaped text ('-' for None or '')."""
    return html.escape(MISSING if value is None or value == "" else str(value))


class Id(str):
    """A test id or model name: escaped, with line-break chances after / :: [ , only (never inside
    a name: `test_more_parameters` stays whole; a name longer than the column breaks last)."""


_BREAK_AFTER = re.compile(r"(::|/|\[|,)")


def id_html(value: Any) -> str:
    """`value` escaped, with <wbr> after / :: [ , (see `Id`)."""
    return _BREAK_AFTER.sub(r"\1<wbr>", escape(value))


def html_table(headers: Sequence[str], rows: list[Sequence[Any]], num: Sequence[int] = (),
               cls: str = "") -> str:
    """A <table>: a cell is text, an `Id`, or `(text, css class)`; the columns in `num` are
    right-aligned numbers."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, tuple):  # (text, css class)
                cells.append(f'<td class="{escape(cell[1])}">{escape(cell[0])}</td>')
            elif isinstance(cell, Id):
                cells.append(f"<td>{id_html(cell)}</td>")
            else:
                cells.append(f'<td class="num">{escape(cell)}</td>' if i in num
                             else f"<td>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
