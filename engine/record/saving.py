"""Saved runs: the config, the theory, the losses and the final W, b as JSON, the losses as CSV.

``save_run("run.json", ...)`` writes ``run.json`` and ``run.losses.csv`` (a name no
data set has, so a run never replaces the file it was trained on).  Saving never
destroys a file amal-tui did not write: an existing target must be a saved run
(the JSON) or a losses file (the CSV), else it is refused before anything is
written — ``check_save_target`` says so before a run starts.  The two files are
written as a pair: both as temporary files in the target folder, then renamed,
the JSON last, so a failure can only leave the old pair, or a new CSV beside the
old JSON, and the error says which.  ``load_config`` reads a saved run back into
the Config that reproduces it exactly.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from engine.config import Config, ConfigError, make_config, shown_path
from engine.i18n import N_, _

FORMAT_RUN = "amal-tui run"
FORMAT_COMPARE = "amal-tui compare"
VERSION = 1
LOSSES_SUFFIX = ".losses.csv"

# What the files this module writes begin with: enough to tell them from anyone else's.
_SAVED_RUN_START = re.compile(r'\s*\{\s*"format"\s*:\s*"amal-tui (run|compare)"')
_LOSSES_HEADER = re.compile(r"iteration,loss|iteration(,loss_lr[^,\s]+)+")
_HEAD_BYTES = 4096
_REMEDY = N_("choose another name, or move it away")


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
        "config": config.saved_dict(),
        "theory": descents[0].theory_dict(),
        "runs": [_summary(descent) for descent in descents],
    }


def _summary(descent: Any) -> dict[str, Any]:
    """A descent's summary; one saved before its end was stopped there: "paused"."""
    summary = descent.summary()
    if summary["status"] == "running":
        summary["status"] = "paused"
    return summary


def save_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The JSON and the losses CSV that ``save_run(path, ...)`` writes: run.json, run.losses.csv."""
    json_path = Path(path)
    if json_path.suffix.lower() != ".json":
        json_path = json_path.with_name(json_path.name + ".json")
    return json_path, json_path.with_name(json_path.name[: -len(".json")] + LOSSES_SUFFIX)


def _head(path: Path) -> str | None:
    """The first bytes of a file as text; None when they are not UTF-8."""
    with open(path, "rb") as handle:
        data = handle.read(_HEAD_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the block is still text.
        if error.start < len(data) - 3:
            return None
        return data[: error.start].decode("utf-8")


def _written_by_us(path: Path, is_json: bool) -> bool:
    head = _head(path)
    if head is None:
        return False
    if is_json:
        return _SAVED_RUN_START.match(head) is not None
    first_line = head.split("\n", 1)[0].rstrip("\r")
    return _LOSSES_HEADER.fullmatch(first_line) is not None


def _check_existing(target: Path, is_json: bool, keep: Iterable[str | os.PathLike]) -> None:
    """Refuse to replace a file that is not one amal-tui wrote (or that the run reads)."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return
    except OSError as error:
        raise SaveError(
            _("{target}: cannot check it: {value}").format(
                target=shown_path(target), value=error.strerror or error
            )
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise SaveError(
            _("{target}: is a folder ({REMEDY})").format(
                target=shown_path(target), REMEDY=_(_REMEDY)
            )
        )
    if not stat.S_ISREG(info.st_mode):
        raise SaveError(
            _("{target}: not a regular file (a device?): not replaced").format(
                target=shown_path(target)
            )
        )
    for kept in keep:
        try:
            same = os.path.samefile(kept, target)
        except OSError:
            continue  # not a file ("toy", "synthetic"), or gone
        if same:
            raise SaveError(
                _("{target}: is a file this run reads: not replaced ({REMEDY})").format(
                    target=shown_path(target), REMEDY=_(_REMEDY)
                )
            )
    try:
        ours = _written_by_us(target, is_json)
    except OSError as error:
        raise SaveError(
            _(
                "{target}: exists and cannot be read to check that amal-tui wrote it: {value}: not replaced"
            ).format(target=shown_path(target), value=error.strerror or error)
        ) from None
    if not ours:
        what = _("a run saved by amal-tui") if is_json else _("a losses file of amal-tui")
        raise SaveError(
            _("{target}: exists and is not {what}: not replaced ({REMEDY})").format(
                target=shown_path(target), what=what, REMEDY=_(_REMEDY)
            )
        )


def check_save_target(
    path: str | os.PathLike, keep: Iterable[str | os.PathLike] = ()
) -> tuple[Path, Path]:
    """The ``save_paths`` of PATH if a run can be saved there; else SaveError, naming the file.

    PATH must name a file (not a folder, not a device) in a folder that exists and
    where a file can be created; an existing JSON or CSV at the targets must be one
    amal-tui wrote, and none may be a file in ``keep`` (the data set the run reads).
    Call it before a run, so that a bad target costs nothing.
    """
    text = os.fspath(path)
    if not text.strip():
        raise SaveError(_("expected a file name, got nothing"))
    if "\0" in text:
        raise SaveError(
            _("{text}: a file name cannot contain a NUL character").format(text=shown_path(text))
        )
    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        raise SaveError(
            _("{text}: is a folder: add a file name (e.g. {value}/run.json)").format(
                text=shown_path(text), value=text.rstrip("/")
            )
        )
    if os.path.exists(text) and not os.path.isfile(text):
        raise SaveError(
            _("{text}: not a regular file (a device?): a run is saved to a file").format(
                text=shown_path(text)
            )
        )
    json_path, csv_path = save_paths(text)
    folder = json_path.parent
    if not folder.is_dir():
        problem = _("is not a folder") if folder.exists() else _("does not exist")
        raise SaveError(
            _("{json_path}: the folder {folder} {problem}").format(
                json_path=shown_path(json_path), folder=shown_path(folder), problem=problem
            )
        )
    try:
        descriptor, probe = tempfile.mkstemp(
            dir=folder, prefix=_temporary_prefix(json_path), suffix=".tmp"
        )
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise SaveError(
            _("{json_path}: cannot write in the folder {folder}: {value}").format(
                json_path=shown_path(json_path),
                folder=shown_path(folder),
                value=error.strerror or error,
            )
        ) from None
    _check_existing(csv_path, False, keep)
    _check_existing(json_path, True, keep)
    return json_path, csv_path


DEFAULT_SAVE_DIR = "amal-runs"
"""Where the app's ``e`` saves (``--save-dir`` changes it): git ignores it in the project."""


def save_folder_problem(folder: str | os.PathLike) -> str | None:
    """Why runs cannot be saved in ``folder`` (one line naming it), or None.

    A folder that does not exist yet is fine: :func:`make_save_folder` creates it at the
    first save.  A file in the way, or an existing folder that cannot be written, is not.
    """
    text = os.fspath(folder)
    if not text.strip():
        return _("expected a folder, got nothing")
    if "\0" in text:
        return _("a folder name cannot contain a NUL character")
    path = Path(os.path.expanduser(text))
    # The nearest part of the path that exists decides: a file there is in the way.
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            return _("{existing}: a broken link is in the way of the folder").format(
                existing=shown_path(existing)
            )
        existing = existing.parent
    inside = (
        ""
        if existing == path
        else _(": runs cannot be saved in {text}").format(text=shown_path(text))
    )
    if not existing.is_dir():
        return f"{shown_path(existing)}: is a file, not a folder{inside}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return _("{existing}: not writable{inside}").format(
            existing=shown_path(existing), inside=inside
        )
    return None


def make_save_folder(folder: str | os.PathLike) -> Path:
    """``folder``, created if missing; SaveError ("saved nothing: …", naming it) if it cannot be."""
    problem = save_folder_problem(folder)
    if problem is not None:
        raise SaveError(_("saved nothing: {problem}").format(problem=problem))
    path = Path(os.path.expanduser(os.fspath(folder)))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SaveError(
            _("saved nothing: cannot create the folder {folder}: {value}").format(
                folder=shown_path(folder), value=error.strerror or error
            )
        ) from None
    return path


def _temporary_prefix(target: Path) -> str:
    # The pid lets a later save tell a killed save's leftover from a save in progress.
    return f".{target.name}.{os.getpid()}."


def _remove_leftovers(target: Path) -> None:
    """Delete the temporary files a killed save of ``target`` left behind (its process is gone)."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[^.]+\.tmp")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
            continue  # that save is still going on
        except ProcessLookupError:
            pass
        except (OSError, OverflowError):
            continue
        try:
            os.unlink(target.parent / name)
        except OSError:
            pass


def _write_temporary(target: Path, text: str) -> str:
    """``text`` in a new temporary file beside ``target``, on disk; returns its path."""
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=_temporary_prefix(target), suffix=".tmp"
    )
    try:
        # mkstemp makes the file private (0600); a saved run gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink(temporary)
        raise
    return temporary


def _unlink(path: str | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


def _sync_folder(folder: Path) -> None:
    """Make the renames durable; a file system that cannot is no reason to fail the save."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


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


def save_run(
    path: str | os.PathLike,
    config: Config,
    descents: Sequence[Any],
    keep: Iterable[str | os.PathLike] = (),
) -> tuple[Path, Path]:
    """Write PATH (JSON, ``.json`` added when missing) and PATH.losses.csv; returns both paths.

    SaveError's message says what happened to the files: "saved nothing: …" (both
    as they were), or "replaced X.losses.csv but not X.json: …".
    """
    try:
        json_path, csv_path = check_save_target(path, keep)
    except SaveError as error:
        raise SaveError(_("saved nothing: {error}").format(error=error)) from None
    text = json.dumps(record(config, descents), allow_nan=False, indent=1) + "\n"
    csv_text = losses_csv(config, descents)
    _remove_leftovers(json_path)
    _remove_leftovers(csv_path)
    temporaries: list[str] = []
    replaced = False
    try:
        for target, content in ((csv_path, csv_text), (json_path, text)):
            failed_on = target
            temporaries.append(_write_temporary(target, content))
        csv_temporary, json_temporary = temporaries
        failed_on = csv_path
        os.replace(csv_temporary, csv_path)
        replaced = True
        failed_on = json_path
        os.replace(json_temporary, json_path)
    except OSError as error:
        for temporary in temporaries:
            _unlink(temporary)
        reason = f"{shown_path(failed_on)}: {error.strerror or error}"
        if replaced:
            raise SaveError(
                _("replaced {csv_path} but not {json_path}: {reason}").format(
                    csv_path=shown_path(csv_path), json_path=shown_path(json_path), reason=reason
                )
            ) from None
        raise SaveError(_("saved nothing: {reason}").format(reason=reason)) from None
    except BaseException:
        for temporary in temporaries:
            _unlink(temporary)
        raise
    _sync_folder(json_path.parent)
    return json_path, csv_path


def load_config(path: str | os.PathLike) -> Config:
    """The Config of a saved run; raises SaveError naming the file and the problem.

    The faults of the JSON reader itself are SaveErrors too: a file nested deeper than
    Python's recursion limit, one too large for memory, a number past Python's limit on
    converting digits to an int (4300 by default) would otherwise end in a traceback.
    """
    try:
        return _load_config(Path(path))
    except RecursionError:
        raise SaveError(
            _("{path}: nested too deeply to be a saved run").format(path=shown_path(path))
        ) from None
    except MemoryError:
        raise SaveError(
            _("{path}: too large to be a saved run").format(path=shown_path(path))
        ) from None
    except ValueError as error:
        reason = _("a number with too many digits") if "digits" in str(error) else str(error)[:100]
        raise SaveError(
            _("{path}: not a saved run: {reason}").format(
                path=shown_path(path), reason=shown_path(reason)
            )
        ) from None


def _load_config(path: Path) -> Config:
    if "\0" in str(path):
        raise SaveError(
            _("{text}: a file name cannot contain a NUL character").format(text=shown_path(path))
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SaveError(_("{path}: no such file").format(path=shown_path(path))) from None
    except IsADirectoryError:
        raise SaveError(
            _("{path}: is a folder, not a saved run").format(path=shown_path(path))
        ) from None
    except UnicodeDecodeError:
        raise SaveError(
            _("{path}: not a text file (a saved run is JSON)").format(path=shown_path(path))
        ) from None
    except OSError as error:
        raise SaveError(
            _("{path}: cannot read it: {value}").format(
                path=shown_path(path), value=error.strerror or error
            )
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SaveError(
            _("{path}: not valid JSON (line {lineno}: {msg})").format(
                path=shown_path(path), lineno=error.lineno, msg=error.msg
            )
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise SaveError(
            _('{path}: no "config" object: not a run saved by amal-tui').format(
                path=shown_path(path)
            )
        )
    try:
        return make_config(**data["config"])
    except ConfigError as error:
        raise SaveError(
            _("{path}: config field {field}: {reason}").format(
                path=shown_path(path), field=error.field, reason=error.reason
            )
        ) from None
