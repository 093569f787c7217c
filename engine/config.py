"""One validated configuration for a descent, shared by the CLI, the TUI and the engine.

Every field has a parser that takes the text a user typed and returns the value
or raises :class:`ConfigError` naming the field and the problem.  This module
imports neither torch nor any UI library, so the CLI can validate its
arguments and the TUI can validate a field as it is typed, before torch loads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

DTYPES = ("float32", "float64")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
MAX_COMPARE = 8
MAX_SEED = 2**63 - 1


def shown_path(path: Any) -> str:
    """A file name as a one-line message can show it: quoted when it holds control characters."""
    text = str(path)
    return repr(text) if any(ord(c) < 32 or ord(c) == 127 for c in text) else text


MAX_REASON = 160


class ConfigError(ValueError):
    """A bad value for one setting; ``str()`` is the one-line message for the user.

    A reason that quotes a huge value (a pasted page, a 400-digit number) is cut in the
    middle, so the message still fits a line or two.
    """

    def __init__(self, field: str, reason: str) -> None:
        if len(reason) > MAX_REASON:
            reason = f"{reason[: MAX_REASON - 40]}…{reason[-30:]}"
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _number(field: str, text: Any) -> float:
    if isinstance(text, bool):
        raise ConfigError(field, f"expected a number, got {text!r}")
    if isinstance(text, (int, float)):
        try:
            return float(text)
        except OverflowError:
            raise ConfigError(field, f"{text} is too large") from None
    if not isinstance(text, str):
        raise ConfigError(field, f"expected a number, got {text!r}")
    value = text.strip()
    if not value:
        raise ConfigError(field, "expected a number, got nothing")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(field, f"expected a number, got {value!r}") from None


def _integer(field: str, text: Any) -> int:
    """An integer, also written as 1e6 or 1_000_000; never a fraction."""
    if isinstance(text, bool):
        raise ConfigError(field, f"expected an integer, got {text!r}")
    if isinstance(text, int):
        return text
    if not isinstance(text, (str, float)):
        raise ConfigError(field, f"expected an integer, got {text!r}")
    value = str(text).strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number):
        raise ConfigError(field, f"expected an integer, got {value!r}")
    return int(number)


def parse_learning_rate(text: Any, field: str = "learning rate") -> float:
    value = _number(field, text)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(field, f"must be a positive finite number, got {text!r}")
    return value


def parse_seed(text: Any, field: str = "seed") -> int:
    value = _integer(field, text)
    if not 0 <= value <= MAX_SEED:
        raise ConfigError(field, f"must be between 0 and {MAX_SEED}, got {value}")
    return value


def parse_optional_seed(text: Any, field: str = "init seed") -> int | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "none")):
        return None
    return parse_seed(text, field)


def parse_threshold(text: Any, field: str = "threshold") -> float:
    value = _number(field, text)
    if math.isnan(value):
        raise ConfigError(field, "must be a number, got NaN")
    return value


def parse_max_iter(text: Any, field: str = "max iterations") -> int:
    value = _integer(field, text)
    if value < 1:
        raise ConfigError(field, f"must be a positive integer, got {value}")
    return value


def parse_dtype(text: Any, field: str = "dtype") -> str:
    value = str(text).strip().lower()
    if value not in DTYPES:
        raise ConfigError(field, f"must be one of {', '.join(DTYPES)}, got {text!r}")
    return value


_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def parse_device(text: Any, field: str = "device") -> str:
    value = str(text).strip().lower()
    if not _DEVICE.match(value):
        raise ConfigError(field, f"must be cpu, cuda or cuda:N, got {text!r}")
    return value


def parse_logdir(text: Any, field: str = "logdir") -> str:
    value = str(text)
    if not value.strip():
        raise ConfigError(field, "must be a folder path, got nothing")
    if "\0" in value:
        raise ConfigError(field, "must not contain a NUL character")
    return value


def parse_functions(text: Any, field: str = "functions") -> str | None:
    """The path of a student's file of Functions, or nothing for the built-in ones."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "none", "builtin")):
        return None
    value = str(text)
    if "\0" in value:
        raise ConfigError(field, "must not contain a NUL character")
    return value


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_class_name(text: Any, field: str = "class name") -> str:
    value = str(text).strip()
    if not _IDENTIFIER.match(value):
        raise ConfigError(field, f"must be a Python class name, got {text!r}")
    return value


def parse_data(text: Any, field: str = "data") -> str:
    """``toy`` (the notebook's problem), ``synthetic``, or the path of a CSV/TSV/.data file."""
    value = str(text).strip() if text is not None else ""
    if not value:
        raise ConfigError(field, "expected toy, synthetic or a file path, got nothing")
    if "\0" in value:
        raise ConfigError(field, "must not contain a NUL character")
    return value.lower() if value.lower() in ("toy", "synthetic") else value


def parse_target(text: Any, field: str = "target") -> str | None:
    """Target columns, names or 0-based indexes separated by commas; nothing for the last column."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, (list, tuple)):
        text = ",".join(str(item) for item in text)
    from .data import parse_target as parse_columns  # numpy: only when a target is given

    try:
        parse_columns(str(text))
    except ValueError as error:
        raise ConfigError(field, str(error).removeprefix("target: ")) from None
    return str(text).strip()


def parse_optional_flag(text: Any, field: str = "flag") -> bool | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "auto", "default")):
        return None
    return parse_flag(text, field)


def parse_test_fraction(text: Any, field: str = "test fraction") -> float:
    """A fraction in [0, 1) of the rows kept apart to measure the test loss."""
    return _fraction(field, text)


def parse_size(text: Any, field: str = "size") -> int:
    value = _integer(field, text)
    if value < 1:
        raise ConfigError(field, f"must be a positive integer, got {value}")
    return value


def parse_noise(text: Any, field: str = "noise") -> float:
    value = _number(field, text)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(field, f"must be a finite number >= 0, got {text!r}")
    return value


def parse_flag(text: Any, field: str = "flag") -> bool:
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ConfigError(field, f"expected true or false, got {text!r}")


def parse_batch_size(text: Any, field: str = "batch size") -> int | None:
    """A positive integer, or nothing / "full" for the whole batch."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "full", "none")):
        return None
    value = _integer(field, text)
    if value < 1:
        raise ConfigError(field, f"must be a positive integer or 'full', got {value}")
    return value


def parse_optimizer(text: Any, field: str = "optimizer") -> str:
    value = str(text).strip().lower()
    if value not in OPTIMIZERS:
        raise ConfigError(field, f"must be one of {', '.join(OPTIMIZERS)}, got {text!r}")
    return value


def _fraction(field: str, text: Any) -> float:
    value = _number(field, text)
    if not 0 <= value < 1:
        raise ConfigError(field, f"must be in [0, 1), got {text!r}")
    return value


def parse_momentum(text: Any, field: str = "momentum") -> float:
    return _fraction(field, text)


def parse_beta(text: Any, field: str = "beta") -> float:
    return _fraction(field, text)


def parse_compare(text: Any, field: str = "compare") -> tuple[float, ...]:
    """Learning rates separated by commas (or spaces): "0.0001,0.01,0.5"."""
    if text is None:
        return ()
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        text = str(text).strip()
        if not text:
            return ()
        items = re.split(r"\s*[,;]\s*|\s+", text)
        if "" in items:
            raise ConfigError(field, f"a learning rate is missing in {text!r}")
    if len(items) > MAX_COMPARE:
        raise ConfigError(field, f"at most {MAX_COMPARE} learning rates, got {len(items)}")
    values = []
    for item in items:
        try:
            values.append(parse_learning_rate(item, field))
        except ConfigError as error:
            raise ConfigError(field, f"{item!r} is not a learning rate: {error.reason}") from None
    return tuple(values)


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
        for name, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[name] = str(value)
        return out

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed, each validated."""
        return make_config(self, **changes)

    def run_name(self) -> str:
        """A folder name that says which hyperparameters produced a run."""
        init = "" if self.init_seed is None else f"_init{self.init_seed}"
        data = "" if self.data == "toy" else "_" + re.sub(r"\W+", "-", self.data.rsplit("/", 1)[-1])
        optimizer = "" if self.optimizer == "sgd" else f"_{self.optimizer}"
        batch = "" if self.batch_size is None else f"_batch{self.batch_size}"
        return (
            f"lr{self.learning_rate:g}_seed{self.seed}{init}{data}{optimizer}{batch}"
            f"_thr{self.threshold:g}_{self.dtype}"
        )

    def same_problem(self, other: Config) -> bool:
        """Whether ``other`` describes the same data and initial W, b (only the descent differs)."""
        return all(getattr(self, name) == getattr(other, name) for name in PROBLEM_SETTINGS)

    def for_learning_rate(self, learning_rate: float) -> Config:
        """The same run with another learning rate, outside any comparison."""
        return replace(self, learning_rate=learning_rate, compare=())


# The settings that decide the data and the initial W, b (see engine.problem.make_problem).
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
        raise ConfigError(sorted(unknown)[0], "is not a setting")
    parsed = {name: PARSERS[name](value) for name, value in values.items()}
    return replace(base or Config(), **parsed)
