"""Saved runs: the config, the theory, the losses and the final W, b as JSON, the losses as CSV.

Files are written atomically (a temporary file in the same folder, then a
rename), so an interrupted save never leaves half a file.  ``load_config``
reads a saved run back into the Config that reproduces it exactly.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Config, ConfigError, make_config, shown_path

FORMAT_RUN = "amal-tui run"
FORMAT_COMPARE = "amal-tui compare"
VERSION = 1


class SaveError(OSError):
    """A run could not be saved or loaded; ``str()`` is the one-line message, naming the file."""


def record(config: Config, descents: Sequence[Any]) -> dict[str, Any]:
    """The JSON object of a run (one descent) or of a comparison (several)."""
    if not config.compare:
        (descent,) = descents
        return {"format": FORMAT_RUN, "version": VERSION, **_summary(descent)}
    return {
        "format": FORMAT_COMPARE,
        "version": VERSION,
        "config": config.to_dict(),
        "theory": descents[0].problem.theory.to_dict(),
        "runs": [_summary(descent) for descent in descents],
    }


def _summary(descent: Any) -> dict[str, Any]:
    """A descent's summary; one saved before its end was stopped there: "paused"."""
    summary = descent.summary()
    if summary["status"] == "running":
        summary["status"] = "paused"
    return summary


def _atomic_write(path: Path, text: str) -> None:
    folder = path.parent
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); a saved run gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _csv_number(value: float) -> str:
    return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else str(value))


def losses_csv(config: Config, descents: Sequence[Any]) -> str:
    """One row per iteration: ``iteration,loss`` (a column per learning rate when comparing)."""
    if config.compare:
        header = ["iteration", *(f"loss_lr{d.config.learning_rate:g}" for d in descents)]
    else:
        header = ["iteration", "loss"]
    columns = [d.losses for d in descents]
    rows = [",".join(header)]
    for k in range(max((len(c) for c in columns), default=0)):
        cells = [_csv_number(float(c[k])) if k < len(c) else "" for c in columns]
        rows.append(f"{k}," + ",".join(cells))
    return "\n".join(rows) + "\n"


def save_run(path: str | os.PathLike, config: Config, descents: Sequence[Any]) -> tuple[Path, Path]:
    """Write PATH (JSON) and PATH with a .csv suffix; returns both paths."""
    json_path = Path(path)
    if json_path.suffix.lower() != ".json":
        json_path = json_path.with_name(json_path.name + ".json")
    csv_path = json_path.with_suffix(".csv")
    try:
        if not json_path.parent.is_dir():
            raise SaveError(
                f"{shown_path(json_path)}: the folder {shown_path(json_path.parent)} does not exist"
            )
        text = json.dumps(record(config, descents), allow_nan=False, indent=1)
        _atomic_write(csv_path, losses_csv(config, descents))
        _atomic_write(json_path, text + "\n")
    except SaveError:
        raise
    except OSError as error:
        raise SaveError(
            f"{shown_path(json_path)}: cannot save the run: {error.strerror or error}"
        ) from None
    return json_path, csv_path


def load_config(path: str | os.PathLike) -> Config:
    """The Config of a saved run; raises SaveError naming the file and the problem."""
    path = Path(path)
    if "\0" in str(path):
        raise SaveError(f"{shown_path(path)}: a file name cannot contain a NUL character")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SaveError(f"{shown_path(path)}: no such file") from None
    except IsADirectoryError:
        raise SaveError(f"{shown_path(path)}: is a folder, not a saved run") from None
    except UnicodeDecodeError:
        raise SaveError(f"{shown_path(path)}: not a text file (a saved run is JSON)") from None
    except OSError as error:
        raise SaveError(f"{shown_path(path)}: cannot read it: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SaveError(
            f"{shown_path(path)}: not valid JSON (line {error.lineno}: {error.msg})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise SaveError(f'{shown_path(path)}: no "config" object: not a run saved by amal-tui')
    try:
        return make_config(**data["config"])
    except ConfigError as error:
        raise SaveError(f"{shown_path(path)}: config field {error.field}: {error.reason}") from None
