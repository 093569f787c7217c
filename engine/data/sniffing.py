"""A table file's shape, from its first megabyte: delimiter, header, target columns, row count."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass

from engine.data.dataset import _DECIMAL_COMMA, MISSING, DataError, _short, _size
from engine.i18n import _

MAX_LINE_BYTES = 64 << 20
"""A line longer than this is no table row."""
HEAD_BYTES = 1 << 20
_CONTROL = bytes(set(range(32)) - set(b"\t\n\r\f\v")) + b"\x7f"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _split_line(line: str, delimiter: str | None) -> list[str]:
    """The cells of one line, unquoted and stripped."""
    if delimiter is None:
        cells = line.split()
    else:
        try:
            cells = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
        except csv.Error:
            # A carriage return inside the line, or a cell over the csv module's 128 kB
            # limit: cut at the delimiters; the cell then reads as a number or is named.
            cells = line.split(delimiter)
    out = []
    for cell in cells:
        cell = cell.strip()
        if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in "\"'":
            cell = cell[1:-1].strip()
        out.append(cell)
    return out


def _guess_delimiter(path: str, lines: list[str]) -> str | None:
    """By the extension, then by the sampled lines: None means any whitespace."""
    extension = os.path.splitext(path)[1].lower()
    sample = lines[:20]

    def consistent(character: str) -> bool:
        counts = {line.count(character) for line in sample}
        return len(counts) == 1 and counts.pop() > 0

    if extension == ".tsv":
        return "\t"
    # A ";" on every line means ";"-separated, with decimal commas perhaps: test it first.
    if extension == ".csv":
        return ";" if consistent(";") else ","
    if consistent(";"):
        return ";"
    if consistent(","):
        return ","
    if consistent("\t") and all(
        not re.search(r"\S\s+\S", cell.strip()) for line in sample for cell in line.split("\t")
    ):
        return "\t"
    return None


@dataclass
class _Table:
    """What the head of a file tells about the rest."""

    path: str
    delimiter: str | None
    columns: int
    header: list[str] | None
    data_offset: int
    first_data_line: int
    x_columns: list[int]
    y_columns: list[int]

    def column(self, j: int) -> str | int:
        return self.header[j] if self.header is not None else j

    @property
    def expected_from(self) -> str:
        return (
            _("as in the header")
            if self.header is not None
            else _("as in row {first_data_line}").format(first_data_line=self.first_data_line)
        )


def _read_head(path: str, handle, size: int) -> tuple[bytes, int]:
    """The first MB (more if the first rows are longer), and where the text starts (after a BOM)."""
    head = handle.read(min(size, HEAD_BYTES))
    if head[:4] == b"PK\x03\x04":
        raise DataError(path, _("looks like an Excel/zip file; export it as CSV"))
    if head[:2] == b"\x1f\x8b":
        raise DataError(path, _("a gzip-compressed file; decompress it first (gunzip)"))
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(path, _("UTF-16 text; save it as UTF-8 (or ASCII) CSV"))
    start = 3 if head[:3] == b"\xef\xbb\xbf" else 0
    first_kb = head[start : start + 1024]
    if b"\0" in first_kb:
        raise DataError(path, _("binary content (NUL bytes), not a text table"))
    if first_kb.translate(None, _CONTROL) != first_kb:
        raise DataError(path, _("binary content (control characters), not a text table"))
    # Read on until the first two non-blank rows are whole (or the file ends).
    while (
        len(head) < size and sum(1 for line in head[start:].split(b"\n")[:-1] if line.strip()) < 2
    ):
        if len(head) >= MAX_LINE_BYTES:
            raise DataError(
                path,
                _("no line break in the first {head}: not a table").format(head=_size(len(head))),
            )
        head += handle.read(HEAD_BYTES)
    return head, start


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _resolve_target(
    path: str, tokens: tuple[str, ...] | None, header: list[str] | None, columns: int
) -> list[int]:
    if tokens is None:
        return [columns - 1]
    chosen: list[int] = []
    for token in tokens:
        index = None
        if header is not None and token in header:
            matches = [j for j, name in enumerate(header) if name == token]
            if len(matches) > 1:
                raise DataError(
                    path,
                    _(
                        "target column {token!r} is ambiguous: columns {str} have that name; give an index"
                    ).format(token=token, str=", ".join(map(str, matches))),
                    setting="target",
                )
            index = matches[0]
        elif re.fullmatch(r"[+-]?\d+", token):
            index = int(token)
            if not -columns <= index < columns:
                raise DataError(
                    path,
                    _(
                        "target column {index} is out of range: the file has {columns} columns (0 to {value})"
                    ).format(index=index, columns=columns, value=columns - 1),
                    setting="target",
                )
            index %= columns
        elif header is None:
            raise DataError(
                path,
                _(
                    "unknown target column {token!r}: the file has no header; give a 0-based index (0 to {value})"
                ).format(token=token, value=columns - 1),
                setting="target",
            )
        else:
            shown = ", ".join(_short(name) for name in header[:12]) + (
                ", …" if len(header) > 12 else ""
            )
            raise DataError(
                path,
                _("unknown target column {token!r} (columns: {shown})").format(
                    token=token, shown=shown
                ),
                setting="target",
            )
        if index in chosen:
            name = header[index] if header is not None else index
            raise DataError(
                path,
                _("the target names column {name!r} twice").format(name=name),
                setting="target",
            )
        chosen.append(index)
    if len(chosen) == columns:
        raise DataError(
            path,
            _("no feature column left: the target takes all {columns} columns").format(
                columns=columns
            ),
            setting="target",
        )
    return chosen


def _describe_table(
    path: str, head: bytes, start: int, size: int, target: tuple[str, ...] | None
) -> tuple[_Table, list[str], int]:
    """Delimiter, header, target columns, and an estimate of the number of rows."""
    notes: list[str] = []
    raw_lines = head[start:].split(b"\n")
    if len(head) < size:
        raw_lines = raw_lines[:-1]  # the last one may be cut
    offsets, position = [], start
    for raw in raw_lines:
        offsets.append(position)
        position += len(raw) + 1
    numbered = [(i, raw) for i, raw in enumerate(raw_lines) if raw.strip()]
    if not numbered:
        raise DataError(path, _("empty file"))
    texts = [_decode(raw).rstrip("\r") for _, raw in numbered]
    delimiter = _guess_delimiter(path, texts)
    first = _split_line(texts[0], delimiter)
    # A text cell makes a header; a decimal comma is a number written wrong, not a name.
    has_header = any(
        not _is_number(cell) and cell.lower() not in MISSING and not _DECIMAL_COMMA.match(cell)
        for cell in first
    )
    columns = len(first)
    header = None
    first_data = 0
    if has_header:
        header = [cell if cell else str(j) for j, cell in enumerate(first)]
        first_data = 1
        if len(numbered) < 2:
            raise DataError(path, _("a header but no data rows"))
        if any(_is_number(cell) for cell in first):
            notes.append(_("row 1 has text, so it was taken as a header"))
    if columns < 2:
        raise DataError(
            path,
            _(
                "only one column{value}: need at least one feature column and one target column"
            ).format(value=" (" + repr(header[0]) + ")" if header else "")
            + ("; is the delimiter right?" if delimiter is not None else ""),
        )
    line_index = numbered[first_data][0]
    data_offset = offsets[line_index]
    y_columns = _resolve_target(path, target, header, columns)
    x_columns = [j for j in range(columns) if j not in y_columns]
    table = _Table(
        path, delimiter, columns, header, data_offset, line_index + 1, x_columns, y_columns
    )
    # Rows to allocate: exact when the head holds the whole file, else from the mean row length.
    sample = [raw for i, raw in numbered[first_data:]]
    if len(head) >= size:
        rows = len(sample)
    else:
        sampled_bytes = sum(len(raw) + 1 for raw in raw_lines[line_index:])
        mean_row = sampled_bytes / max(len(sample), 1)
        rows = int((size - data_offset) / mean_row * 1.02) + 16
    return table, notes, rows
