"""Pictures of attention weights: a failed check's expected and learner's weights side by side.

The chapter's mistakes show at a glance in a picture of the weights: a mask that leaks as
non-zero entries above the diagonal, a softmax over the wrong dim as rows that no longer sum
to 1, dropout before the softmax as weights that are neither dropped nor rescaled. A check
declares the output that holds weights (`Check.picture`); when it fails, the engine keeps a
`Picture` of it in the `CheckResult`: one 2-D slice of the expected and of the learner's
weights, as plain lists of floats capped at `CAP` x `CAP` (the top-left corner of a larger
matrix), the entries the check finds wrong and the row sums. Every report draws it from
those lists: `grid` for the terminal (rich), `heatmap_html` for Jupyter and the HTML report.

Hidden checks get no picture: it would show the expected values of inputs drawn at grading
time. NaN and infinities are kept and drawn as such ("nan", "inf", "-inf").
"""

from __future__ import annotations

import html
import math
import textwrap
from typing import TYPE_CHECKING

from rich.color import Color
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.style import Style
from rich.table import Table
from rich.text import Text

from grader.report.results import CAP, SIGMA, Picture

if TYPE_CHECKING:
    from rich.console import Console

    from grader.checks.criteria import Sight

__all__ = ["CAP", "Picture", "grid", "heatmap_html", "take"]


# -- from the check's tensors ------------------------------------------------------------


def take(key: str, sight: Sight) -> Picture | None:
    """The picture of `sight` (a criterion's tensors, see `Criterion.sight`): the 2-D slice
    holding the first wrong entry (the first slice where none is marked). None for a scalar."""
    got, expected, wrong = sight.got.detach(), sight.expected, sight.wrong
    if got.dim() == 0:
        return None
    same_shape = expected is not None and tuple(expected.shape) == tuple(got.shape)
    lead = _first_slice(got, wrong)
    picture = Picture(
        key=key,
        shape=list(got.shape),
        where="[" + ", ".join(map(str, lead)) + "]" if lead else "",
        size=list(_matrix(got[lead]).shape),
        got=_corner(got[lead]),
        labels=list(sight.labels),
        marks=sight.marks,
        what=sight.what,
    )
    if expected is not None:
        # Where the shapes differ, each side's first slice, and nothing marked.
        shown = expected.detach()[lead if same_shape else _first_slice(expected, None)]
        picture.expected = _corner(shown)
        picture.expected_size = list(_matrix(shown).shape)
        if not same_shape:
            picture.note = (
                f"the shapes differ: expected {tuple(expected.shape)}, yours {tuple(got.shape)}"
            )
    if wrong is not None:
        cells = _matrix(wrong[lead])[:CAP, :CAP].nonzero().tolist()
        picture.wrong = [[int(r), int(c)] for r, c in cells]
    if sight.rows_sum_to_one:
        picture.got_sums = _row_sums(got[lead])
    return picture


def _first_slice(got, wrong) -> tuple[int, ...]:
    """The leading indices of the 2-D slice to show."""
    lead = max(got.dim() - 2, 0)
    if wrong is not None and tuple(wrong.shape) == tuple(got.shape) and bool(wrong.any()):
        return tuple(int(i) for i in wrong.nonzero()[0][:lead])
    return (0,) * lead


def _matrix(t):
    """A 1-D tensor as one row; a 2-D one as it is."""
    return t.reshape(1, -1) if t.dim() == 1 else t


def _corner(t) -> list[list[float]]:
    return _matrix(t)[:CAP, :CAP].double().tolist()


def _row_sums(t) -> list[float]:
    return _matrix(t).double().sum(dim=-1)[:CAP].tolist()


# -- text and colours shared by every drawing --------------------------------------------


def cell_text(value: float) -> str:
    """A weight in at most 4 characters: '·' for exactly 0, '1' for exactly 1, two decimals
    below 10, nan / inf / -inf as such."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "·"
    if value == 1:
        return "1"
    size = abs(value)
    if size < 0.995:
        text = f"{value:.2f}"
        return text.replace("0.", ".", 1) if value < 0 else text
    if size < 9.995:
        return f"{value:.2f}" if value > 0 else f"{value:.1f}"
    if size < 99.95:
        return f"{value:.1f}" if value > 0 else f"{value:.0f}"
    return f"{value:.0e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def sum_text(value: float) -> str:
    """A row sum: two decimals (nan / inf as such)."""
    return f"{value:.2f}" if math.isfinite(value) else cell_text(value)


def scale_of(picture: Picture) -> float:
    """The largest finite magnitude in both matrices (at least 1): full colour."""
    values = [v for m in (picture.got, picture.expected or []) for row in m for v in row]
    finite = [abs(v) for v in values if math.isfinite(v)]
    return max([1.0, *finite])


WRONG_RGB = (200, 30, 30)
SPECIAL_RGB = (240, 200, 60)  # nan and inf
_LIGHT, _BLUE, _ORANGE = (247, 249, 252), (33, 90, 170), (200, 100, 20)


def colours(value: float, scale: float, wrong: bool) -> tuple[tuple[int, int, int] | None, bool]:
    """The cell's background, and whether its text should be light: none for exactly 0 (a
    masked entry stays blank), blue for weights by size, orange for negative values, yellow
    for nan and inf, red for a marked entry."""
    if wrong:
        return WRONG_RGB, True
    if not math.isfinite(value):
        return SPECIAL_RGB, False
    if value == 0:
        return None, False
    share = min(abs(value) / scale, 1.0)
    end = _BLUE if value >= 0 else _ORANGE
    rgb = tuple(round(a + (b - a) * share) for a, b in zip(_LIGHT, end, strict=True))
    return rgb, share > 0.55  # type: ignore[return-value]


# -- the terminal ------------------------------------------------------------------------


def grid(picture: Picture, console: Console, indent: int = 6) -> RenderableType:
    """The expected and the learner's weights as coloured grids, side by side where the
    console is wide enough (else one above the other), and a caption line. A marked entry has
    a `*` before it, so that the marks survive a terminal without colours."""
    scale = scale_of(picture)
    wrong = {tuple(cell) for cell in picture.wrong}
    tables = []
    if picture.expected is not None:
        tables.append(_table(picture.labels[0], picture.expected, scale))
    tables.append(_table(picture.labels[1], picture.got, scale, wrong, picture))
    side_by_side = Table.grid(padding=(0, 3))
    side_by_side.add_row(*tables)
    width = console.measure(side_by_side).maximum
    body = side_by_side if width + indent <= console.width else Group(*tables)
    margin = " " * indent
    lines = textwrap.wrap(
        picture.caption(), max(console.width, 40), initial_indent=margin, subsequent_indent=margin
    )
    caption = Text("\n".join(lines), style="dim", no_wrap=True)
    return Group(Padding(body, (0, 0, 0, indent), expand=False), caption)


def _table(
    label: str,
    rows: list[list[float]],
    scale: float,
    wrong: frozenset | set = frozenset(),
    picture: Picture | None = None,
) -> Table:
    """One matrix; with `picture`, the learner's, its row sums after it where it has them."""
    sums = picture.got_sums if picture is not None else None
    table = Table(
        title=Text(label, style="bold"),
        title_justify="left",
        box=None,
        show_edge=False,
        pad_edge=False,
        padding=0,
    )
    table.add_column("", style="dim", justify="right", no_wrap=True)
    for column in range(len(rows[0]) if rows else 0):
        table.add_column(Text(f"{column:>6}", style="dim"), justify="right", no_wrap=True)
    if sums is not None:
        table.add_column(Text(f"{SIGMA:>7}", style="dim"), justify="right", no_wrap=True)
    for i, row in enumerate(rows):
        cells = [Text(str(i), style="dim")]
        cells += [_cell(v, scale, (i, j) in wrong) for j, v in enumerate(row)]
        if sums is not None and picture is not None:
            cells.append(_sum_cell(sums[i], picture.sum_is_off(i)))
        table.add_row(*cells)
    return table


def _cell(value: float, scale: float, wrong: bool) -> Text:
    """' *0.19', '    *1': a space, then the value in 4 characters with the mark before it,
    coloured."""
    background, light = colours(value, scale, wrong)
    if background is None:
        style = Style(dim=True)
    else:
        style = Style(
            bgcolor=Color.from_rgb(*background),
            color=Color.from_rgb(255, 255, 255) if light else Color.from_rgb(20, 20, 20),
            bold=wrong,
        )
    cell = Text(" ")
    cell.append(f"{('*' if wrong else '') + cell_text(value):>5}", style=style)
    return cell


def _sum_cell(value: float, off: bool) -> Text:
    text = f"{('*' if off else '') + sum_text(value):>7}"
    return Text(text, style="bold red" if off else "dim")


# -- HTML --------------------------------------------------------------------------------


def heatmap_html(picture: Picture) -> str:
    """The two matrices as HTML tables with inline styles (no script, no stylesheet: they
    show in Jupyter and in a saved page alike), each entry's exact value in its tooltip."""
    scale = scale_of(picture)
    wrong = {tuple(cell) for cell in picture.wrong}
    parts = []
    if picture.expected is not None:
        parts.append(_html_table(picture.labels[0], picture.expected, scale))
    parts.append(_html_table(picture.labels[1], picture.got, scale, wrong, picture))
    caption = html.escape(picture.caption())
    return (
        '<div class="attention-picture" style="margin:4px 0 12px 0">'
        '<div style="display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start">'
        + "".join(parts)
        + f'</div><div style="color:#57606a;font-size:12px;margin-top:4px">{caption}</div></div>'
    )


_TABLE_STYLE = (
    "border-collapse:collapse;font:11px/1.2 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
)
_TD = "padding:3px 5px;text-align:right;min-width:30px;border:1px solid #ffffff"
_TH = "color:#8c959f;font-weight:normal;text-align:right;padding:0 5px"


def _html_table(
    label: str,
    rows: list[list[float]],
    scale: float,
    wrong: frozenset | set = frozenset(),
    picture: Picture | None = None,
) -> str:
    """One matrix; with `picture`, the learner's, its row sums after it where it has them."""
    e = html.escape
    sums = picture.got_sums if picture is not None else None
    width = len(rows[0]) if rows else 0
    head = "".join(f'<th style="{_TH}">{j}</th>' for j in range(width))
    if sums is not None:
        head += f'<th style="{_TH};padding-left:12px">{SIGMA}</th>'
    body = []
    for i, row in enumerate(rows):
        cells = [f'<th style="{_TH}">{i}</th>']
        cells += [_html_cell(v, scale, (i, j) in wrong, i, j) for j, v in enumerate(row)]
        if sums is not None and picture is not None:
            off = picture.sum_is_off(i)
            colour = "color:#cf222e;font-weight:bold" if off else "color:#57606a"
            cells.append(
                f'<td style="{_TD};padding-left:12px;{colour}" title="row {i} sums to '
                f'{e(repr(sums[i]))}">{"* " if off else ""}{e(sum_text(sums[i]))}</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<figure style="margin:0"><figcaption style="font-weight:bold;margin-bottom:2px">'
        f'{e(label)}</figcaption><table style="{_TABLE_STYLE}"><thead><tr><th></th>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></figure>"
    )


def _html_cell(value: float, scale: float, wrong: bool, i: int, j: int) -> str:
    """One entry, coloured by size; a marked one keeps its colour (the pattern of the values
    stays visible) inside a red frame, with a `*`."""
    background, light = colours(value, scale, False)
    fill = f"rgb{background}" if background is not None else "transparent"
    fg = "#ffffff" if light else ("#141414" if background is not None else "#8c959f")
    mark = f";box-shadow:inset 0 0 0 2px rgb{WRONG_RGB};font-weight:bold" if wrong else ""
    text = html.escape(("* " if wrong else "") + cell_text(value))
    tip = html.escape(f"[{i}, {j}] = {value!r}" + (" (marked)" if wrong else ""))
    return f'<td style="{_TD};background:{fill};color:{fg}{mark}" title="{tip}">{text}</td>'
