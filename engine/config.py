"""One validated configuration for a descent, shared by the CLI, the TUI and the engine.

Every field has a parser that takes the text a user typed and returns the value
or raises :class:`ConfigError` naming the field and the problem.  This module
imports neither torch nor any UI library, so the CLI can validate its
arguments and the TUI can validate a field as it is typed, before torch loads.
"""

from __future__ import annotations

import csv
import errno
import math
import os
import re
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from engine.i18n import N_, _

DTYPES = ("float32", "float64")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
MAX_COMPARE = 8
MAX_SWEEP = 4096
MAX_SEED = 2**63 - 1
MAX_COUNT = 2**63 - 1
"""The largest iteration count, batch or data size: what a tensor dimension can hold."""

# A learning rate is used in the dtype of the run: float32 (the notebook's) rounds anything
# over its largest number to inf (torch refuses it) and anything under its smallest
# normal number to 0 or a denormal (the parameters never move).  The rule is float32's for
# every dtype, so a learning rate valid for one run is valid for any run.
LR_MAX = 3.4028234663852886e38
"""float32's largest number."""
LR_MIN = 1.1754943508222875e-38
"""float32's smallest normal number."""
FLOAT32_BELOW_1 = 1 - 2**-24
"""The largest float32 under 1 (0.99999994)."""


def shown_path(path: Any) -> str:
    """A file name as a one-line message can show it: quoted, escaped, when it holds a control
    character, an escape sequence or anything else a terminal would not print as it is."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _shown(value: Any) -> str:
    """A value as a one-line message can show it: a list or an object is named, not printed
    (a deeply nested one would exhaust the recursion limit), a huge number gives its length."""
    if isinstance(value, (list, tuple)):
        return _("a list")
    if isinstance(value, dict):
        return _("an object")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        return _("a number of about {value} digits").format(
            value=int(value.bit_length() * math.log10(2))
        )
    if isinstance(value, str) and len(value) > 1000:
        return repr(value[:100]) + _("… ({value} characters)").format(value=len(value))
    return repr(value)


def path_problem(path: str) -> str | None:
    """Why the file system cannot take ``path`` at all (a name too long), or None.

    Only a name the file system refuses whatever the folder holds: a missing file is
    for the reader to report, with what it was reading it for.
    """
    try:
        os.stat(os.path.expanduser(path))
    except ValueError:
        return _("must not contain a NUL character")
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            return None
        longest = max((len(os.fsencode(part)) for part in path.split(os.sep)), default=0)
        try:
            name_max = os.pathconf(".", "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = 255
        if longest > name_max:
            return _(
                "a name in the path is {longest} bytes long; the file system allows {name_max}"
            ).format(longest=longest, name_max=name_max)
        return _("the path is too long for the file system ({path} bytes)").format(
            path=len(os.fsencode(path))
        )
    return None


MAX_REASON = 160


class ConfigError(ValueError):
    """A bad value for one setting; ``str()`` is the one-line message for the user.

    A reason that quotes a huge value (a pasted page, a 400-digit number) is cut in the
    middle, so the message still fits a line or two.
    """

    def __init__(self, field: str, reason: str) -> None:
        if len(reason) > MAX_REASON:
            reason = f"{reason[: MAX_REASON - 40]}…{reason[-30:]}"
        super().__init__(f"{_(field)}: {reason}")
        self.field = field
        self.reason = reason


def _number(field: str, text: Any) -> float:
    if isinstance(text, bool):
        raise ConfigError(field, _("expected a number, got {text!r}").format(text=text))
    if isinstance(text, (int, float)):
        try:
            return float(text)
        except OverflowError:
            raise ConfigError(field, _("{text} is too large").format(text=_shown(text))) from None
    if not isinstance(text, str):
        raise ConfigError(field, _("expected a number, got {text}").format(text=_shown(text)))
    value = text.strip()
    if not value:
        raise ConfigError(field, _("expected a number, got nothing"))
    try:
        return float(value)
    except ValueError:
        raise ConfigError(
            field, _("expected a number, got {value!r}").format(value=value)
        ) from None


_DIGITS = re.compile(r"^[+-]?[0-9_]+$")
MAX_DIGITS = 100


def _text(field: str, text: Any) -> str:
    """The text of a setting; a number is taken as its text, a list or an object refused."""
    if isinstance(text, str):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return str(text) if not isinstance(text, int) or text.bit_length() < 1000 else _shown(text)
    raise ConfigError(field, _("expected text, got {text}").format(text=_shown(text)))


def _integer(field: str, text: Any) -> int:
    """An integer, also written as 1e6 or 1_000_000; never a fraction."""
    if isinstance(text, bool):
        raise ConfigError(field, _("expected an integer, got {text!r}").format(text=text))
    if isinstance(text, int):
        return text
    if not isinstance(text, (str, float)):
        raise ConfigError(field, _("expected an integer, got {text}").format(text=_shown(text)))
    value = str(text).strip()
    if _DIGITS.match(value) and len(value) > MAX_DIGITS:
        # Python refuses to convert so many digits (ValueError); no setting needs them.
        raise ConfigError(
            field, _("too large: a number of {value} digits").format(value=len(value))
        )
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number):
        raise ConfigError(field, _("expected an integer, got {value!r}").format(value=value))
    return int(number)


def parse_learning_rate(text: Any, field: str = N_("learning rate")) -> float:
    value = _number(field, text)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            field, _("must be a positive finite number, got {text}").format(text=_shown(text))
        )
    if value > LR_MAX:
        raise ConfigError(
            field,
            _("{value:g} is too large for float32 (at most {LR_MAX:.4g})").format(
                value=value, LR_MAX=LR_MAX
            ),
        )
    if value < LR_MIN:
        raise ConfigError(
            field,
            _(
                "{value:g} is too small: float32 rounds it to 0 or a denormal, and W, b would never move (the smallest usable learning rate is {LR_MIN:.4g})"
            ).format(value=value, LR_MIN=LR_MIN),
        )
    return value


def parse_seed(text: Any, field: str = N_("seed")) -> int:
    value = _integer(field, text)
    if not 0 <= value <= MAX_SEED:
        raise ConfigError(
            field,
            _("must be between 0 and {MAX_SEED}, got {value}").format(
                MAX_SEED=MAX_SEED, value=value
            ),
        )
    return value


def parse_optional_seed(text: Any, field: str = N_("init seed")) -> int | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "none")):
        return None
    return parse_seed(text, field)


def parse_threshold(text: Any, field: str = N_("threshold")) -> float:
    # Past float32's range a threshold rounds to ±inf or 0 in a float32 run, which stops it
    # exactly where the threshold itself would: no rule is needed (unlike the learning rate).
    value = _number(field, text)
    if math.isnan(value):
        raise ConfigError(field, _("must be a number, got NaN"))
    return value


def parse_max_iter(text: Any, field: str = N_("max iterations")) -> int:
    return _count(field, text)


def _count(field: str, text: Any, what: str = N_("a positive integer")) -> int:
    value = _integer(field, text)
    if value < 1:
        raise ConfigError(
            field, _("must be {what}, got {value}").format(what=_(what), value=_shown(value))
        )
    if value > MAX_COUNT:
        raise ConfigError(
            field,
            _("must be at most {MAX_COUNT}, got {value}").format(
                MAX_COUNT=MAX_COUNT, value=_shown(value)
            ),
        )
    return value


def parse_dtype(text: Any, field: str = N_("dtype")) -> str:
    value = _text(field, text).strip().lower()
    if value not in DTYPES:
        raise ConfigError(
            field,
            _("must be one of {DTYPES}, got {text}").format(
                DTYPES=", ".join(DTYPES), text=_shown(text)
            ),
        )
    return value


_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def parse_device(text: Any, field: str = N_("device")) -> str:
    value = _text(field, text).strip().lower()
    if not _DEVICE.match(value):
        raise ConfigError(
            field, _("must be cpu, cuda or cuda:N, got {text}").format(text=_shown(text))
        )
    return value


def _path_text(field: str, text: Any, expected: str) -> str:
    """A path as text: not empty, no NUL (no system call takes one)."""
    value = _text(field, text)
    if not value.strip():
        raise ConfigError(field, _("{expected}, got nothing").format(expected=expected))
    if "\0" in value:
        raise ConfigError(field, _("must not contain a NUL character"))
    return value


def parse_logdir(text: Any, field: str = N_("logdir")) -> str:
    # A name too long is not refused here: like any folder that cannot be written, it turns
    # logging off with a warning and the run goes on.
    return _path_text(field, text, _("must be a folder path"))


def parse_functions(text: Any, field: str = N_("functions")) -> str | None:
    """The path of a student's file of Functions, or nothing for the built-in ones."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "none", "builtin")):
        return None
    return parse_file(text, field)


def parse_file(text: Any, field: str = N_("file")) -> str:
    """A file path the file system can take (it need not exist yet)."""
    value = _path_text(field, text, _("expected a file path"))
    problem = path_problem(value)
    if problem:
        raise ConfigError(field, problem)
    return value


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_class_name(text: Any, field: str = N_("class name")) -> str:
    value = _text(field, text).strip()
    if not _IDENTIFIER.match(value):
        raise ConfigError(
            field, _("must be a Python class name, got {text}").format(text=_shown(text))
        )
    return value


def parse_data(text: Any, field: str = N_("data")) -> str:
    """``toy`` (the notebook's problem), ``synthetic``, or the path of a CSV/TSV/.data file."""
    value = _text(field, text).strip() if text is not None else ""
    if not value:
        raise ConfigError(field, _("expected toy, synthetic or a file path, got nothing"))
    if value.lower() in ("toy", "synthetic"):
        return value.lower()
    return parse_file(value, field)


def target_columns(text: Any) -> tuple[str, ...] | None:
    """Target columns as typed: None (the last column), or names and 0-based indexes.

    ``"price"``, ``"0,3"``, ``"price, rooms"``; a name with a comma in it can be
    quoted: ``'"a,b",c'``.  A list of names or indexes is accepted too.  Which
    column each one means is decided once the header is read.  Raises ValueError
    with a one-line reason for an empty name or a column given twice.
    """
    if text is None:
        return None
    if isinstance(text, (list, tuple)):
        items = [str(item).strip() for item in text]
        if not items:
            return None
    else:
        text = str(text)
        if not text.strip():
            return None
        if "\n" in text or "\r" in text:
            raise ValueError("target: " + _("must be one line"))
        items = [item.strip() for item in next(csv.reader([text], skipinitialspace=True))]
    for item in items:
        if not item:
            raise ValueError("target: " + _("an empty column name in {text!r}").format(text=text))
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise ValueError("target: " + _("column {item!r} is given twice").format(item=item))
        seen.add(item)
    return tuple(items)


def parse_target(text: Any, field: str = N_("target")) -> str | None:
    """Target columns, names or 0-based indexes separated by commas; nothing for the last column."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, (list, tuple)):
        if not all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in text):
            raise ConfigError(field, _("expected column names or indexes"))
        text = ",".join(str(item) for item in text)
    text = _text(field, text)
    try:
        target_columns(str(text))
    except ValueError as error:
        raise ConfigError(field, str(error).removeprefix("target: ")) from None
    return str(text).strip()


def parse_optional_flag(text: Any, field: str = N_("flag")) -> bool | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "auto", "default")):
        return None
    return parse_flag(text, field)


def parse_test_fraction(text: Any, field: str = N_("test fraction")) -> float:
    """A fraction in [0, 1) of the rows kept apart to measure the test loss."""
    return _fraction(field, text)


def parse_size(text: Any, field: str = N_("size")) -> int:
    return _count(field, text)


def parse_noise(text: Any, field: str = N_("noise")) -> float:
    value = _number(field, text)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(
            field, _("must be a finite number >= 0, got {text}").format(text=_shown(text))
        )
    return value


def parse_flag(text: Any, field: str = N_("flag")) -> bool:
    if isinstance(text, bool):
        return text
    value = _text(field, text).strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ConfigError(field, _("expected true or false, got {text}").format(text=_shown(text)))


def parse_batch_size(text: Any, field: str = N_("batch size")) -> int | None:
    """A positive integer, or nothing / "full" for the whole batch."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "full", "none")):
        return None
    return _count(field, text, N_("a positive integer or 'full'"))


def parse_optimizer(text: Any, field: str = N_("optimizer")) -> str:
    value = _text(field, text).strip().lower()
    if value not in OPTIMIZERS:
        raise ConfigError(
            field,
            _("must be one of {OPTIMIZERS}, got {text}").format(
                OPTIMIZERS=", ".join(OPTIMIZERS), text=_shown(text)
            ),
        )
    return value


def _fraction(field: str, text: Any) -> float:
    value = _number(field, text)
    if not 0 <= value < 1:
        raise ConfigError(field, _("must be in [0, 1), got {text}").format(text=_shown(text)))
    return value


def _decay(field: str, text: Any) -> float:
    """A factor in [0, 1) that multiplies a float32 tensor: float32 must hold it under 1.

    Past 1 − 2⁻²⁵ float32 rounds it to 1 (0.99999999 is 1.0 there): a momentum of 1 never
    lets the velocity decay, and the descent never settles.
    """
    value = _fraction(field, text)
    if struct.unpack("f", struct.pack("f", value))[0] >= 1:
        raise ConfigError(
            field,
            _(
                "float32 rounds {value!r} up to 1, out of [0, 1); at most {FLOAT32_BELOW_1:.8g}"
            ).format(value=value, FLOAT32_BELOW_1=FLOAT32_BELOW_1),
        )
    return value


def parse_momentum(text: Any, field: str = N_("momentum")) -> float:
    return _decay(field, text)


def parse_beta(text: Any, field: str = N_("beta")) -> float:
    return _decay(field, text)


def parse_compare(text: Any, field: str = N_("compare")) -> tuple[float, ...]:
    """Learning rates separated by commas (or spaces): "0.0001,0.01,0.5"."""
    if text is None:
        return ()
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        text = _text(field, text).strip()
        if not text:
            return ()
        items = re.split(r"\s*[,;]\s*|\s+", text)
        if "" in items:
            raise ConfigError(field, _("a learning rate is missing in {text!r}").format(text=text))
    if len(items) > MAX_COMPARE:
        raise ConfigError(
            field,
            _("at most {MAX_COMPARE} learning rates, got {items}").format(
                MAX_COMPARE=MAX_COMPARE, items=len(items)
            ),
        )
    values = []
    for item in items:
        try:
            values.append(parse_learning_rate(item, field))
        except ConfigError as error:
            raise ConfigError(
                field,
                _("{item} is not a learning rate: {reason}").format(
                    item=_shown(item), reason=error.reason
                ),
            ) from None
    return tuple(values)


def parse_sweep(text: Any, field: str = N_("sweep")) -> tuple[float, float, int] | tuple[()]:
    """``FROM:TO:K``: K learning rates log-spaced from FROM to TO ("1e-4:3:64")."""
    if text is None:
        return ()
    if isinstance(text, (list, tuple)):
        items = list(text)
        if not items:
            return ()
    else:
        text = _text(field, text).strip()
        if not text:
            return ()
        items = text.split(":")
    if len(items) != 3:
        raise ConfigError(
            field,
            _("expected FROM:TO:K, e.g. 1e-4:3:64, got {text}").format(text=_shown(str(text))),
        )
    rates = []
    for part, item in zip(("FROM", "TO"), items[:2], strict=True):
        try:
            rates.append(parse_learning_rate(item, field))
        except ConfigError as error:
            raise ConfigError(field, f"{part}: {error.reason}") from None
    start, stop = rates
    try:
        count = int(str(items[2]).strip())
    except ValueError:
        raise ConfigError(
            field,
            _("K must be a whole number of runs, got {items}").format(items=_shown(str(items[2]))),
        ) from None
    if not 1 <= count <= MAX_SWEEP:
        raise ConfigError(
            field,
            _("K must be between 1 and {MAX_SWEEP}, got {count}").format(
                MAX_SWEEP=MAX_SWEEP, count=count
            ),
        )
    if count > 1 and start == stop:
        raise ConfigError(
            field,
            _("FROM and TO are both {start:g}: {count} runs would be the same run").format(
                start=start, count=count
            ),
        )
    return (start, stop, count)


@dataclass(frozen=True)
class Config:
    """Every setting of a run.  Build it with :func:`make_config` to validate it."""

    learning_rate: float = 0.01
    seed: int = 42
    init_seed: int | None = None
    threshold: float = 0.70
    max_iter: int = 100_000
    dtype: str = "float32"
    device: str = "cpu"
    tensorboard: bool = True
    logdir: str = "runs"
    batch_size: int | None = None
    optimizer: str = "sgd"
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    compare: tuple[float, ...] = ()
    sweep: tuple = ()
    """(FROM, TO, K): K learning rates log-spaced from FROM to TO, run as one batch."""
    functions: str | None = None
    data: str = "toy"
    target: str | None = None
    standardize: bool | None = None
    test_fraction: float = 0.0
    dropna: bool = False
    n: int = 200
    d: int = 5
    m: int = 1
    noise: float = 0.1
    mse_name: str = "MSE"
    linear_name: str = "Linear"
    force: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; an infinite threshold is written "inf" / "-inf", which parses back."""
        out = asdict(self)
        out["compare"] = list(self.compare)
        out["sweep"] = list(self.sweep)
        for name, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[name] = str(value)
        return out

    def saved_dict(self) -> dict[str, Any]:
        """``to_dict()`` without the settings this config does not use (:data:`CONDITIONAL`):
        a saved toy-problem run carries no synthetic-data or CSV fields, a run of the built-in
        Functions no class names.  ``make_config(**config.saved_dict()) == config.relevant()``."""
        return {
            name: value
            for name, value in self.to_dict().items()
            if name not in CONDITIONAL or CONDITIONAL[name][0](self)
        }

    def relevant(self) -> Config:
        """The same run with every setting it does not use back at its default (what a saved
        run reloads as: the same data, initial W, b and descent)."""
        defaults = Config()
        unused = {
            name: getattr(defaults, name)
            for name, (applies, _what) in CONDITIONAL.items()
            if not applies(self)
        }
        return replace(self, **unused)

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed, each validated."""
        return make_config(self, **changes)

    def run_name(self) -> str:
        """A folder name that says which hyperparameters produced a run."""
        init = "" if self.init_seed is None else f"_init{self.init_seed}"
        data = "" if self.data == "toy" else "_" + re.sub(r"\W+", "-", self.data.rsplit("/", 1)[-1])
        # A student's Functions: the file's stem, so their runs and the reference's differ.
        functions = ""
        if self.functions is not None:
            stem = self.functions.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
            functions = "_" + re.sub(r"\W+", "-", stem)
        optimizer = "" if self.optimizer == "sgd" else f"_{self.optimizer}"
        batch = "" if self.batch_size is None else f"_batch{self.batch_size}"
        return (
            f"lr{self.learning_rate:g}_seed{self.seed}{init}{data}{functions}{optimizer}{batch}"
            f"_thr{self.threshold:g}_{self.dtype}"
        )

    def same_problem(self, other: Config) -> bool:
        """Whether ``other`` describes the same data and initial W, b (only the descent differs)."""
        return all(getattr(self, name) == getattr(other, name) for name in PROBLEM_SETTINGS)

    def for_learning_rate(self, learning_rate: float) -> Config:
        """The same run with another learning rate, outside any comparison."""
        return replace(self, learning_rate=learning_rate, compare=(), sweep=())


# The settings that decide the data and the initial W, b (see engine.core.problem.make_problem).
PROBLEM_SETTINGS = (
    "seed",
    "init_seed",
    "dtype",
    "device",
    "data",
    "target",
    "standardize",
    "test_fraction",
    "dropna",
    "n",
    "d",
    "m",
    "noise",
)


def _a_file(config: Config) -> bool:
    return config.data not in ("toy", "synthetic")


# Settings that matter only with other settings: setting -> (whether ``config`` uses it, what
# it is for).  The CLI refuses one given without what it needs; a saved run leaves out those
# its config does not use (``Config.saved_dict``).
CONDITIONAL: dict[str, tuple[Callable[[Config], bool], str]] = {
    **dict.fromkeys(["target", "dropna"], (_a_file, N_("a data file (--data PATH)"))),
    **dict.fromkeys(
        ["n", "d", "m", "noise"], (lambda c: c.data == "synthetic", N_("--data synthetic"))
    ),
    "momentum": (
        lambda c: c.optimizer in ("momentum", "nesterov"),
        N_("--optimizer momentum or nesterov"),
    ),
    **dict.fromkeys(["beta1", "beta2"], (lambda c: c.optimizer == "adam", N_("--optimizer adam"))),
    **dict.fromkeys(
        ["force", "mse_name", "linear_name"],
        (lambda c: c.functions is not None, N_("--functions FILE")),
    ),
    "logdir": (lambda c: c.tensorboard, N_("TensorBoard logging (not --no-tensorboard)")),
    "learning_rate": (
        lambda c: not c.compare and not c.sweep,
        N_("one run (with --compare or --sweep each ε of the list runs)"),
    ),
}

PARSERS: dict[str, Callable[..., Any]] = {
    "learning_rate": parse_learning_rate,
    "seed": parse_seed,
    "init_seed": parse_optional_seed,
    "threshold": parse_threshold,
    "max_iter": parse_max_iter,
    "dtype": parse_dtype,
    "device": parse_device,
    "tensorboard": parse_flag,
    "logdir": parse_logdir,
    "batch_size": parse_batch_size,
    "optimizer": parse_optimizer,
    "momentum": parse_momentum,
    "beta1": parse_beta,
    "beta2": parse_beta,
    "compare": parse_compare,
    "sweep": parse_sweep,
    "functions": parse_functions,
    "data": parse_data,
    "target": parse_target,
    "standardize": parse_optional_flag,
    "test_fraction": parse_test_fraction,
    "dropna": parse_flag,
    "n": parse_size,
    "d": parse_size,
    "m": parse_size,
    "noise": parse_noise,
    "mse_name": parse_class_name,
    "linear_name": parse_class_name,
    "force": parse_flag,
}
assert set(PARSERS) == {f.name for f in fields(Config)}


def make_config(base: Config | None = None, **values: Any) -> Config:
    """Validate ``values`` (text or numbers) and return a Config; raises ConfigError."""
    unknown = set(values) - set(PARSERS)
    if unknown:
        # The name may come from a shared file: escaped, and cut if it is a page long.
        name = sorted(unknown)[0]
        shown = shown_path(name if len(name) <= 60 else name[:57] + "...")
        raise ConfigError(shown, _("is not a setting"))
    parsed = {name: PARSERS[name](value) for name, value in values.items()}
    return replace(base or Config(), **parsed)
