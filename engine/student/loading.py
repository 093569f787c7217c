"""Loading a student's own MSE and Linear from their file, as written in their notebook cell.

Loading a file runs its code: the check loads it in a child process
(:mod:`engine.student.child`), and a descent with ``--functions`` loads it again in
amal-tui's process only after that check's verdict.  Whatever goes wrong on the
way (no such file, a syntax error, an exception at import, a missing class)
becomes a :class:`StudentCodeError` whose message is one line naming the file
and, when known, the line: a student's mistake is reported, never raised at them.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import itertools
import linecache
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType

from torch.autograd import Function

from engine.config import shown_path
from engine.i18n import _

# A fresh module name per load: loading the same file twice gives two independent modules.
_LOAD_NUMBER = itertools.count(1)

# Long enough for torch's longest one-line messages, short enough for one terminal line or two.
_MESSAGE_LENGTH = 300


class StudentCodeError(Exception):
    """A student's file could not be loaded; ``str()`` is one line naming the file and line."""

    def __init__(self, message: str, path: str, line: int | None = None) -> None:
        self.message = one_line(message)
        self.path = path
        self.line = line
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return _("{path}, line {line}: {message}").format(
            path=shown_path(os.path.basename(self.path)), line=self.line, message=self.message
        )


def one_line(text: str) -> str:
    """``text`` on one line, whitespace collapsed and shortened."""
    text = " ".join(str(text).split())
    if not text.isprintable():
        # A student's message may hold escape sequences: shown, never sent to the terminal.
        text = repr(text)[1:-1]
    if len(text) > _MESSAGE_LENGTH:
        text = text[: _MESSAGE_LENGTH - 1] + "…"
    return text


def describe_exception(error: BaseException) -> str:
    """``"ValueError: message"``, or the type alone when the message is empty."""
    try:
        message = one_line(str(error))
    except Exception:  # a student's exception class whose __str__ fails
        message = _("(its message cannot be shown)")
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def student_frame(traceback_: TracebackType | None, filename: str) -> tuple[int | None, str | None]:
    """The innermost frame of ``filename`` in a traceback: (line, function name), or (None, None)."""
    line = function = None
    for frame, lineno in traceback.walk_tb(traceback_):
        if frame.f_code.co_filename == filename:
            line, function = lineno, frame.f_code.co_name
    return line, function


def code_filename(path: str | os.PathLike) -> str:
    """The name Python gives the student's code (as compiled by :func:`load_module`)."""
    return str(Path(os.fspath(path)).expanduser().resolve())


def source_line(filename: str, line: int | None) -> str | None:
    """The text of one line of a file, stripped, or None."""
    if line is None:
        return None
    linecache.checkcache(filename)  # the student may have edited the file since
    text = linecache.getline(filename, line).strip()
    return text or None


def function_classes(module: ModuleType) -> list[str]:
    """The names of the module's subclasses of ``torch.autograd.Function``."""
    return [
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Function) and value is not Function
    ]


def _read_source(path: Path, shown: str) -> str:
    if not path.exists():
        raise StudentCodeError(_("{shown}: no such file").format(shown=shown), shown)
    if path.is_dir():
        raise StudentCodeError(
            _("{shown} is a folder, not a Python file").format(shown=shown), shown
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StudentCodeError(
            _("{shown}: cannot read it ({strerror})").format(shown=shown, strerror=error.strerror),
            shown,
        ) from None
    if b"\0" in data:
        raise StudentCodeError(
            _("{shown} is a binary file, not Python source").format(shown=shown), shown
        )
    try:
        # utf-8-sig: an editor's byte-order mark is not a syntax error.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise StudentCodeError(_("not UTF-8 text (save the file as UTF-8)"), shown, line) from None


@contextlib.contextmanager
def _folder_on_path(folder: str):
    """The student's folder first on ``sys.path``, so that their own imports work.

    No bytecode is written there, and the modules imported from there are
    forgotten afterwards: loading the file again after an edit of one of them
    must see the edit.
    """
    sys.path.insert(0, folder)
    dont_write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    before = set(sys.modules)
    try:
        yield
    finally:
        sys.dont_write_bytecode = dont_write_bytecode
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
        new = set(sys.modules) - before
        mine = {name for name in new if "." not in name and _module_folder(name) == folder}
        for name in new:
            if name.split(".")[0] in mine:
                sys.modules.pop(name, None)


def _module_folder(name: str) -> str | None:
    """The folder holding a top-level module, or holding its package's folder."""
    module_file = getattr(sys.modules.get(name), "__file__", None)
    if not module_file:
        return None
    module_file = os.path.realpath(module_file)
    if os.path.basename(module_file) == "__init__.py":
        module_file = os.path.dirname(module_file)
    return os.path.dirname(module_file)


def load_module(path: str | os.PathLike) -> ModuleType:
    """Run a student's file as a fresh module; every failure becomes a :class:`StudentCodeError`."""
    module, _, _ = _load(path, partial=False)
    return module


def _load(
    path: str | os.PathLike, partial: bool
) -> tuple[ModuleType, StudentCodeError | None, list[str]]:
    """``(module, failure, notes)``: the file run as a fresh module.

    With ``partial``, a file whose import fails is loaded again with its imports
    and its class and function definitions only (by ``ast``, one statement at a
    time): ``failure`` is then the whole import's error and ``notes`` say what
    was left out and why; the caller decides whether its classes are there.
    """
    shown = os.fspath(path)
    filename = code_filename(shown)
    resolved = Path(filename)
    source = _read_source(resolved, shown)
    try:
        # dont_inherit: this module's ``from __future__`` must not leak into the student's code.
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise StudentCodeError(
            f"{type(error).__name__}: {error.msg}", shown, error.lineno
        ) from None
    except (ValueError, RecursionError, MemoryError) as error:  # e.g. too deeply nested
        raise StudentCodeError(f"{shown}: {describe_exception(error)}", shown) from None

    stem = "".join(c if c.isalnum() else "_" for c in resolved.stem)
    name = f"amal_student_{next(_LOAD_NUMBER)}_{stem}"
    spec = importlib.util.spec_from_file_location(name, filename)
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs, as an import would: dataclasses and typing look it up by name.
    sys.modules[name] = module
    try:
        with _folder_on_path(str(resolved.parent)), contextlib.redirect_stdout(sys.stderr):
            # The student's prints go to stderr: stdout may carry the --json report.
            exec(code, module.__dict__)
    except BaseException as error:
        # SystemExit and KeyboardInterrupt too: the student's file is what raised them.
        sys.modules.pop(name, None)
        failure = _import_failure(error, filename, shown)
        if isinstance(error, KeyboardInterrupt) or not partial:
            raise failure from None
        # The Functions may be fine while the file's script or a course import is not:
        # their definitions alone, as a fresh module.
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            notes = _definitions_only(source, filename, module, failure)
        except BaseException as again:  # Ctrl+C meanwhile, or a file ast cannot take
            sys.modules.pop(name, None)
            if isinstance(again, KeyboardInterrupt):
                raise _import_failure(again, filename, shown) from None
            raise failure from None
        return module, failure, notes
    return module, None, []


def _import_failure(error: BaseException, filename: str, shown: str) -> StudentCodeError:
    """What an exception raised while the file ran says, located in the student's file."""
    line, _column = student_frame(error.__traceback__, filename)
    if isinstance(error, SyntaxError) and error.filename != filename:
        # A syntax error in a file the student imports: its own file and line say more.
        where = _(" ({value}, line {lineno})").format(
            value=os.path.basename(error.filename or "?"), lineno=error.lineno
        )
        message = f"{type(error).__name__}: {error.msg}{where}"
    else:
        message = describe_exception(error)
    return StudentCodeError(message, shown, line)


# What is run of a file whose whole import failed: its imports and its definitions.
_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_IMPORTS = (ast.Import, ast.ImportFrom)


def _docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _constant(node: ast.stmt) -> bool:
    """``EPS = 1e-6``, ``N, M = 5, 3``: a literal the classes may use, harmless to run."""
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _lines(numbers: list[tuple[int, int]]) -> str:
    """ "line 3", "lines 3, 5-9": the lines of the statements left out."""
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in numbers]
    word = "line" if len(numbers) == 1 and numbers[0][0] == numbers[0][1] else "lines"
    shown = ", ".join(parts[:8]) + (
        _(" and {value} more").format(value=len(parts) - 8) if len(parts) > 8 else ""
    )
    return f"{word} {shown}"


def _definitions_only(
    source: str, filename: str, module: ModuleType, failure: StudentCodeError
) -> list[str]:
    """Run the file's imports and class and function definitions, one by one, into ``module``.

    An import that fails and a definition that fails are left out, each named
    with its line; every other top-level statement (the file's script) is not
    run.  Returns those notes, the whole import's failure first.
    """
    tree = ast.parse(source, filename)
    where = f"line {failure.line}: " if failure.line is not None else ""
    notes = [
        _(
            "importing the whole file failed ({where}{message}): only its imports and its class and function definitions were loaded"
        ).format(where=where, message=failure.message)
    ]
    skipped: list[tuple[int, int]] = []
    with _folder_on_path(os.path.dirname(filename)), contextlib.redirect_stdout(sys.stderr):
        for node in tree.body:
            if _docstring(node):
                continue
            if not (isinstance(node, _DEFINITIONS + _IMPORTS) or _constant(node)):
                end = getattr(node, "end_lineno", None) or node.lineno
                if skipped and skipped[-1][1] >= node.lineno - 1:
                    skipped[-1] = (skipped[-1][0], end)
                else:
                    skipped.append((node.lineno, end))
                continue
            code = compile(
                ast.Module(body=[node], type_ignores=[]), filename, "exec", dont_inherit=True
            )
            try:
                exec(code, module.__dict__)
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001 - the student's: noted, left out
                text = describe_exception(error)
                if isinstance(node, _IMPORTS):
                    statement = source_line(filename, node.lineno) or "import"
                    notes.append(f"line {node.lineno}: `{one_line(statement)}` failed: {text}")
                else:
                    kind = "class" if isinstance(node, ast.ClassDef) else "function"
                    notes.append(
                        f"line {node.lineno}: {kind} {node.name} could not be defined: {text}"
                    )
    if skipped:
        notes.append(f"the file's top-level script was not run ({_lines(skipped)})")
    return notes


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclass
class LoadedClasses:
    """The student's MSE and Linear as found in their file, each on its own.

    ``classes[i]`` is None when that class is missing or not a Function, and
    ``missing[i]`` then says why; ``notes`` say what loading the file left out
    (a failed import, the script not run) or chose (a name matched without its case).
    """

    classes: list[type | None]
    missing: list[str | None]
    notes: list[str] = field(default_factory=list)


def _problem(module: ModuleType, name: str, option: str, base: str) -> tuple[type | None, str]:
    """``(class, note)``: the class called ``name``, or the unique one so called but for its
    case (the note says so); ``(None, why)`` when there is none."""
    value = getattr(module, name, None)
    if value is None or not hasattr(module, name):
        found = function_classes(module)
        same = [other for other in found if other.lower() == name.lower()]
        if len(same) == 1:
            return getattr(module, same[0]), (
                _(
                    "no class {name} in {base}: class {same} is used for it (names are case-sensitive: {option} {same} says it)"
                ).format(name=name, base=base, same=same[0], option=option)
            )
        listed = ", ".join(found) if found else _("no subclass of torch.autograd.Function")
        return None, _("no class {name} in {base} (found: {listed}); use {option} NAME").format(
            name=name, base=base, listed=listed, option=option
        )
    if not (isinstance(value, type) and issubclass(value, Function)):
        kind = type(value).__name__
        kind = _("a class") if isinstance(value, type) else f"{_article(kind)} {kind}"
        return None, (
            _(
                "{name} in {base} is {kind}, not a subclass of torch.autograd.Function (class {name}(Function): ...)"
            ).format(name=name, base=base, kind=kind)
        )
    return value, ""


def load_classes(
    path: str | os.PathLike, mse_name: str = "MSE", linear_name: str = "Linear"
) -> LoadedClasses:
    """The student's MSE and Linear, each on its own: one missing does not stop the other.

    A file whose import fails outside the classes (a course package that is not
    installed, a script that crashes) is loaded with its imports and definitions
    only; only when the two classes cannot be built that way is it a
    :class:`StudentCodeError`, as is a file with neither class.
    """
    module, failure, notes = _load(path, partial=True)
    shown = os.fspath(path)
    base = os.path.basename(shown)
    found = [
        _problem(module, name, option, base)
        for name, option in ((mse_name, "--mse"), (linear_name, "--linear"))
    ]
    classes = [cls for cls, _ in found]
    if failure is not None and None in classes:
        unbuilt = [
            name
            for cls, name in zip(classes, (mse_name, linear_name), strict=True)
            if cls is None and any(f": class {name} could not be defined" in n for n in notes)
        ]
        if unbuilt or classes == [None, None]:
            # The classes cannot be built without what failed: the import's failure is the reason.
            raise failure
    missing = [why if cls is None else None for cls, why in found]
    notes += [why for cls, why in found if cls is not None and why]
    if classes == [None, None]:
        absent = [
            (name, option)
            for name, option in ((mse_name, "--mse"), (linear_name, "--linear"))
            if not hasattr(module, name)
        ]
        if len(absent) == 2:
            listed = ", ".join(function_classes(module)) or "no subclass of torch.autograd.Function"
            raise StudentCodeError(
                _(
                    "no class {mse_name} nor {linear_name} in {base} (found: {listed}); use --mse NAME and --linear NAME"
                ).format(mse_name=mse_name, linear_name=linear_name, base=base, listed=listed),
                shown,
            )
        raise StudentCodeError(next(why for why in missing if why), shown)
    return LoadedClasses(classes, missing, notes)


def load_functions(
    path: str | os.PathLike, mse_name: str = "MSE", linear_name: str = "Linear"
) -> tuple[type, type]:
    """The student's MSE and Linear classes from their file, checked to be autograd Functions."""
    loaded = load_classes(path, mse_name, linear_name)
    for why in loaded.missing:
        if why is not None:
            raise StudentCodeError(why, os.fspath(path))
    mse, linear = loaded.classes
    return mse, linear


def describe_run_error(error: BaseException, path: str | os.PathLike) -> str:
    """One line for an exception raised while a descent ran a student's Functions.

    Names the student's file and the innermost line of theirs in the traceback,
    when there is one: "f.py, line 30, in backward: RuntimeError: ...".
    """
    filename = code_filename(path)
    line, function = student_frame(error.__traceback__, filename)
    where = shown_path(os.path.basename(filename))
    if line is not None:
        where += f", line {line}, in {function}"
    return f"{where}: {describe_exception(error)}"
