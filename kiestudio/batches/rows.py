"""Reading a batch's rows: a prompt template with ``{variables}``, then a pasted list or a CSV file.

Pure Python (no database): each row comes out with its line number and its values, or with the reason it can't
be read. Which model a row runs on and whether its values fit that model are checked later, by the model's own
form (``services.batch_preview``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from kiestudio.studio.prompt_templates import fill, template_variables
from kiestudio.studio.prompt_templates import variable_key as _key

MAX_ROWS = 500
MAX_CSV_BYTES = 2 * 1024 * 1024


class RowsError(Exception):
    """The whole input can't be read (no rows, too many, not a CSV); the message is safe to show."""


@dataclass
class Row:
    line: int  # the line of the list or CSV file it came from (the CSV's header is line 1)
    values: dict[str, str] = field(default_factory=dict)  # column (or variable) name → text, names as _key gives
    prompt: str = ""
    reason: str = ""  # why the row can't run; empty when it can


def _finish(rows: list[Row], template: str) -> list[Row]:
    """Fill each readable row's prompt from the template (or its own "prompt" value), refusing rows that leave a
    variable without a value."""
    variables = template_variables(template)
    for row in rows:
        if row.reason:
            continue
        if template:
            missing = [v.name for v in variables if v.default is None and not row.values.get(v.name, "").strip()]
            if missing:
                row.reason = "No value for " + ", ".join(f"{{{name}}}" for name in missing) + "."
                continue
            row.prompt = fill(template, row.values)
        else:
            row.prompt = " ".join(row.values.get("prompt", "").split())
        if not row.prompt:
            row.reason = "The prompt is empty."
    return rows


def rows_from_list(text: str, *, template: str = "") -> list[Row]:
    """One row per non-empty line. With a template, the line fills its first variable (a line may also give
    several, as ``subject: a fox | style: ink``); without one, the line is the prompt."""
    variables = template_variables(template)
    rows: list[Row] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        values = (_named_values(line) or {variables[0].name: line}) if variables else {"prompt": line}
        rows.append(Row(number, values))
    _check_count(rows)
    return _finish(rows, template)


def _named_values(line: str) -> dict[str, str]:
    """``subject: a fox | style: ink`` as {"subject": "a fox", "style": "ink"}; {} for a plain line."""
    parts = [part.split(":", 1) for part in line.split("|")]
    if len(parts) < 2 and (len(parts[0]) < 2 or " " in parts[0][0].strip()):
        return {}
    if any(len(part) != 2 for part in parts):
        return {}
    return {_key(name): value.strip() for name, value in parts}


def rows_from_csv(data: bytes, *, template: str = "") -> tuple[list[str], list[Row]]:
    """The header's column names and one row per record of a CSV (comma, semicolon or tab separated; UTF-8, with
    or without a byte-order mark; a quoted cell may span lines). A row that isn't UTF-8 or has more cells than
    the header names is refused with its line number; the others can still run. Column names are compared
    without case or spaces ("Prompt", "prompt")."""
    if len(data) > MAX_CSV_BYTES:
        raise RowsError(f"The CSV is {len(data) / 1024 / 1024:.1f} MB; the most a batch takes is 2 MB.")
    if b"\x00" in data[:4096]:
        raise RowsError("That file isn't a CSV (it looks like a binary file). Export the sheet as CSV, UTF-8.")
    # Bytes that aren't UTF-8 become lone surrogates, so one bad row is found and refused, not the whole file.
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise RowsError("The CSV is empty: its first line should name the columns (for example prompt,model).")
    if _not_utf8(first_line):
        raise RowsError("The CSV's first line isn't UTF-8 text. Save the file as “CSV UTF-8” and upload it again.")
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(first_line))
    try:
        header = [_key(cell) for cell in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise RowsError("The CSV's first line can't be read: it should name the columns (prompt,model).") from exc
    if not any(header):
        raise RowsError("The CSV's first line should name its columns (for example prompt,model).")
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    if duplicates:
        raise RowsError(f"The column “{duplicates[0]}” appears twice in the CSV's first line.")
    rows: list[Row] = []
    line = reader.line_num + 1  # where the next record starts
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append(Row(line, reason=f"This line can't be read as CSV ({exc})."))
            line = reader.line_num + 1
            continue
        number, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if any(_not_utf8(cell) for cell in cells):
            rows.append(Row(number, reason="This line isn't UTF-8 text (save the file as “CSV UTF-8”)."))
        elif len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            rows.append(Row(number, reason=f"This line has {len(cells)} cells; the header names {len(header)}."))
        else:
            rows.append(Row(number, {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name}))
    _check_count(rows)
    return header, _finish(rows, template)


def _not_utf8(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _dialect(header: str) -> type[csv.Dialect]:
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _check_count(rows: list[Row]) -> None:
    if not rows:
        raise RowsError("There are no rows: give at least one prompt.")
    if len(rows) > MAX_ROWS:
        raise RowsError(f"That is {len(rows)} rows; a batch takes at most {MAX_ROWS}. Split it into several.")
