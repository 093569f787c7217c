"""``amal-tui``: parse the arguments into one validated Config, then run headless or open the app.

Nothing here imports torch or textual at module level: the app must paint its
first screen before torch loads, and ``--help`` must answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NoReturn

from engine.config import (
    CONDITIONAL,
    Config,
    ConfigError,
    parse_batch_size,
    parse_beta,
    parse_class_name,
    parse_compare,
    parse_data,
    parse_device,
    parse_dtype,
    parse_file,
    parse_functions,
    parse_learning_rate,
    parse_logdir,
    parse_max_iter,
    parse_momentum,
    parse_noise,
    parse_optimizer,
    parse_optional_seed,
    parse_seed,
    parse_size,
    parse_sweep,
    parse_target,
    parse_test_fraction,
    parse_threshold,
    shown_path,
)
from engine.i18n import (
    N_,
    _,
    available_languages,
    current_language,
    language_from_environment,
    ngettext,
    set_language,
)
from engine.record.saving import (
    DEFAULT_SAVE_DIR,
    SaveError,
    check_save_target,
    load_config,
    save_folder_problem,
)
from tui.crash import write_crash_report
from tui.exits import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE
from tui.pacing import parse_speed
from tui.serve import DEFAULT_HOST, DEFAULT_PORT, parse_host, parse_port, served_in_a_browser
from tui.streams import encode_standard_streams

DESCRIPTION = N_("""\
Watch gradient descent happen, one iteration at a time, on the hand-written
MSE and Linear autograd Functions of the first AMAL PyTorch notebook.

Without --headless it opens the terminal app: s steps one iteration, r runs
and pauses, [ and ] slow it down and speed it up, x resets, l toggles a log
scale, + and - change the learning rate ×10 / ÷10 (* and / ×2 / ÷2), c
compares learning rates, e saves (in amal-runs/, or --save-dir), ? shows every
key and what each state means, q quits.  With --headless it runs to the end and
prints the notebook's log (or one JSON object with --json).""")

EPILOG = N_("""\
examples:
  amal-tui                                  the app, on the notebook's problem
  amal-tui --headless                       the notebook's run: converges at n = 1475
  amal-tui --headless --lr 0.0001 --init-seed 42 --max-iter 1001
                                            the notebook's slow run, capped
  amal-tui --headless --json --lr 0.5 --init-seed 42
                                            one JSON object: status, losses, W, b
  amal-tui --headless --compare 0.0001,0.01,0.5 --init-seed 42 --max-iter 1001
                                            the notebook's three learning rates, one table
  amal-tui --headless --optimizer adam --lr 0.05 --batch-size 10
                                            Adam on mini-batches of 10 points
  amal-tui --headless --save run.json       the run as run.json and run.losses.csv
  amal-tui --config run.json                the same run again, in the app
  amal-tui --check my_functions.py          check your own MSE and Linear
  amal-tui --check submissions/             check a class: one row per file
  amal-tui --headless --functions my_functions.py
                                            the descent with them
  tensorboard --logdir runs                 look at the logged losses

the problem: torch.manual_seed(SEED), then X = randn(50, 13), Y = randn(50, 3),
W = randn(13, 3), b = randn(1, 3).  With --init-seed N, W and b are drawn after
seeding with N instead (the notebook's second and third runs).

the theory: the loss never goes under the least-squares optimum (0.6971 on the
default problem), and plain gradient descent diverges when ε > 2/L (1.532
here); both are printed at the end of a headless run.

your own Functions: --check FILE.py runs FILE.py in a separate Python process,
with a time limit of 10 s per call (its import, each forward and backward),
finds the classes MSE and Linear (--mse / --linear for other names) and checks
them on several shapes: forward values, the gradient of each input against a
numerical one (grad_output = 1 and not), shapes, and says what looks wrong
(a missing factor 2, a forgotten 1/numel, a transposed gradient, ...).
--functions FILE.py runs the descent with them, in amal-tui's own process,
only once they pass the same check (or with --force).  A run saved with
--save names its Functions: --config runs them only with --functions given.

exit status: 0 converged or capped, 3 diverged, 2 bad arguments (or the app
without a terminal), 130 interrupted (Ctrl+C), 143 terminated (SIGTERM), 129
hung up (SIGHUP), 141 the reader of the output went away (| head) -- with
--save, a stopped run and a run whose output fails are saved all the same; 1 a
failed --check (with several files or a folder: any file that fails), Functions
that fail the check, a failed save, an output that cannot be written (closed
stdout, full disk), or an unexpected error (a crash report file is written).

checking a class: --check DIR (or several files, or a glob) checks every .py
file, each in its own process, as many at a time as there are cores, and prints
a table (file, MSE, Linear, first hint: ✓ passes, ✗ fails, missing, - not
checked) and a summary line; --json prints one JSON object per file, one a line.""")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line naming the problem; the usage block would bury it.  argparse quotes what
        # was typed as it is: a control character or an escape sequence (a path from a
        # shared config) is shown escaped, never sent to the terminal.
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.exit(
            EXIT_USAGE,
            _("{prog}: error: {message} (see {prog} --help)").format(
                prog=self.prog, message=message
            )
            + "\n",
        )


def _translate_argparse() -> None:
    """argparse's own words ("usage:", "options", "show this help message and exit", its
    errors) from amal-tui's catalogue: argparse asks gettext's global domain, which holds
    none of them, so they would stay English under --lang fr."""
    argparse._ = _
    argparse.ngettext = ngettext


# argparse's words, in the catalogue (their msgids are argparse's own, Python 3.10 to 3.13).
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("options"),
    N_("positional arguments"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("expected at least one argument"),
    N_("invalid %(type)s value: %(value)r"),
    N_("the following arguments are required: %s"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
)


def _language_option(argv: Sequence[str]) -> str | None:
    """The value of --lang in ``argv`` (read before the parser exists: its --help is in
    that language), or None."""
    for index, argument in enumerate(argv):
        if argument == "--":
            break
        if argument == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith("--lang="):
            return argument.partition("=")[2]
    return None


def choose_language(argv: Sequence[str]) -> str:
    """Switch every text to --lang's language, or else to the one LC_ALL, LC_MESSAGES or LANG
    names when amal-tui has it; English otherwise.  An unknown --lang says, on one line of
    stderr, which languages exist, and goes on in English.  Returns the language chosen."""
    asked = _language_option(argv)
    if asked is None:
        set_language(language_from_environment() or "en")
    elif not set_language(asked):
        shown = "".join(c if c.isprintable() else "?" for c in asked)
        print(
            f"amal-tui: unknown language {shown!r} for --lang: the languages are "
            f"{', '.join(available_languages())}; going on in English",
            file=sys.stderr,
        )
    return current_language()


def _validated(parser: Callable[..., object], option: str) -> Callable[[str], object]:
    def parse(text: str) -> object:
        try:
            return parser(text, option)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(error.reason) from None

    parse.__name__ = option  # argparse names the type in some messages
    return parse


# (group, flags, setting, parser, metavar, help): every setting of Config the command line sets.
STUDENT = N_("your own Functions (--functions RUNS the file's code: only use files you trust)")
# fmt: off
SETTINGS = [
    (N_("the descent"), ["--lr", "--learning-rate"], "learning_rate", parse_learning_rate, "EPS",
     N_("learning rate ε, a positive number")),
    (N_("the descent"), ["--seed"], "seed", parse_seed, "S",
     N_("seed of the data (and of W, b without --init-seed)")),
    (N_("the descent"), ["--init-seed"], "init_seed", parse_optional_seed, "N",
     N_("draw W and b after seeding with N instead")),
    (N_("the descent"), ["--threshold"], "threshold", parse_threshold, "LOSS",
     N_("stop once an iteration's loss is at or under LOSS")),
    (N_("the descent"), ["--max-iter"], "max_iter", parse_max_iter, "N", N_("stop after N iterations")),
    (N_("the descent"), ["--dtype"], "dtype", parse_dtype, "TYPE", N_("float32 (the notebook's) or float64")),
    (N_("the descent"), ["--device"], "device", parse_device, "DEV", N_("cpu, cuda or cuda:N")),
    (N_("optimizers and mini-batches"), ["--optimizer"], "optimizer", parse_optimizer, "NAME",
     N_("sgd (the notebook's), momentum, nesterov or adam, written by hand as torch.optim's")),
    (N_("optimizers and mini-batches"), ["--momentum"], "momentum", parse_momentum, "MU",
     N_("momentum of --optimizer momentum or nesterov")),
    (N_("optimizers and mini-batches"), ["--beta1"], "beta1", parse_beta, "B1", N_("Adam's β1")),
    (N_("optimizers and mini-batches"), ["--beta2"], "beta2", parse_beta, "B2", N_("Adam's β2")),
    (N_("optimizers and mini-batches"), ["--batch-size"], "batch_size", parse_batch_size, "B",
     N_("mini-batches of B points, reshuffled each epoch from the seed (1: stochastic); "
     "default: the whole batch. The loss recorded is the full-batch loss")),
    (N_("experiments"), ["--compare"], "compare", parse_compare, "EPS,EPS,...",
     N_("run each learning rate from the same data and W, b, and compare them")),
    (N_("experiments"), ["--sweep"], "sweep", parse_sweep, "FROM:TO:K",
     N_("K learning rates log-spaced from FROM to TO (e.g. 1e-4:3:64), run from the same "
     "start as one batched computation; with --headless prints each run's end, the theory's "
     "predicted loss and where convergence turns into divergence (exit 0 even when some "
     "runs diverge: finding them is the point); in the app opens its sweep view (w)")),
    (N_("data"), ["--data"], "data", parse_data, "SOURCE",
     N_("toy (the notebook's problem), synthetic (a known ground truth) or a CSV, TSV or "
     "whitespace-separated .data file")),
    (N_("data"), ["--target"], "target", parse_target, "COLS",
     N_("the target columns of a file: names or 0-based indexes, comma-separated "
     "(default: the last column)")),
    (N_("data"), ["--test-fraction"], "test_fraction", parse_test_fraction, "F",
     N_("keep a fraction F of the rows apart (drawn from the seed): their loss is the test loss")),
    (N_("data"), ["--n"], "n", parse_size, "N", N_("synthetic data: number of points")),
    (N_("data"), ["--d"], "d", parse_size, "D", N_("synthetic data: number of features")),
    (N_("data"), ["--m"], "m", parse_size, "M", N_("synthetic data: number of outputs")),
    (N_("data"), ["--noise"], "noise", parse_noise, "SIGMA", N_("synthetic data: noise level")),
    (STUDENT, ["--functions"], "functions", parse_functions, "FILE.py",
     N_("run the descent with the MSE and Linear of FILE.py, after checking them")),
    (STUDENT, ["--mse"], "mse_name", parse_class_name, "NAME", N_("the name of your MSE class")),
    (STUDENT, ["--linear"], "linear_name", parse_class_name, "NAME", N_("the name of your Linear class")),
    ("TensorBoard", ["--logdir"], "logdir", parse_logdir, "DIR",
     N_("write the loss of every iteration as Loss/train under DIR")),
]
# fmt: on


def build_parser() -> argparse.ArgumentParser:
    _translate_argparse()
    parser = _Parser(
        prog="amal-tui",
        description=_(DESCRIPTION),
        epilog=_(EPILOG),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Config().to_dict()
    groups: dict[str, argparse._ArgumentGroup] = {}

    def group(title: str):
        if title not in groups:
            groups[title] = parser.add_argument_group(_(title))
        return groups[title]

    mode = group(N_("mode"))
    mode.add_argument(
        "--headless",
        action="store_true",
        help=_("run to the end without the app and print the log"),
    )
    mode.add_argument(
        "--json", action="store_true", help=_("with --headless: print one JSON object instead")
    )
    mode.add_argument(
        "--config",
        type=_validated(parse_file, "--config"),
        metavar="FILE",
        help=_(
            "start from the settings of a run saved with --save (options given here override "
            "them; a Python file it names runs only with --functions FILE.py given here)"
        ),
    )
    mode.add_argument(
        "--save",
        type=_validated(parse_file, "--save"),
        metavar="FILE",
        help=_(
            "with --headless: save the run as FILE (JSON: config, theory, losses, W, b) "
            "and its losses as FILE.losses.csv beside it, even when stopped or when stdout "
            "fails; a file there that amal-tui did not write is never replaced"
        ),
    )
    for title, flags, setting, parse, metavar, help_text in SETTINGS:
        default = defaults[setting]
        suffix = (
            ""
            if default is None or default == []
            else _(" (default {default})").format(default=default)
        )
        # No default here: only the options actually given override a --config file.
        group(title).add_argument(
            *flags,
            dest=setting,
            metavar=metavar,
            type=_validated(parse, flags[0]),
            default=argparse.SUPPRESS,
            help=_(help_text) + suffix,
        )
    data = group(N_("data"))
    data.add_argument(
        "--standardize",
        dest="standardize",
        action="store_true",
        default=argparse.SUPPRESS,
        help=_(
            "centre and scale each column, with statistics from the training rows only "
            "(the default for files)"
        ),
    )
    data.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        default=argparse.SUPPRESS,
        help=_("use the values as they are (the default for toy and synthetic)"),
    )
    data.add_argument(
        "--dropna",
        action="store_true",
        default=argparse.SUPPRESS,
        help=_("drop the rows of a file with missing values (otherwise refused)"),
    )
    student = group(STUDENT)
    student.add_argument(
        "--check",
        type=_validated(parse_file, "--check"),
        nargs="+",
        metavar="FILE.py",
        help=_(
            "check the MSE and Linear of FILE.py against the reference: values, gradients, "
            "shapes, with a hint for each mistake; exit 0 when both pass, 1 otherwise.  Several "
            "files, a folder (its .py files) or a glob: each file in its own process, a table "
            "(file, MSE, Linear, first hint) and a summary line, --json one object per line; "
            "exit 0 when every file passes, 1 when any fails, 2 when an argument names no file"
        ),
    )
    student.add_argument(
        "--force",
        action="store_true",
        default=argparse.SUPPRESS,
        help=_("with --functions: run even when the check fails"),
    )
    group(N_("the app")).add_argument(
        "--speed",
        type=_validated(parse_speed, "--speed"),
        default=None,
        metavar="N",
        help=_(
            "run at most N iterations per second, to watch the descent (e.g. 10; "
            "[ and ] change it in the app); default: max, as fast as the engine goes"
        ),
    )
    group(N_("the app")).add_argument(
        "--save-dir",
        type=_validated(parse_save_dir, "--save-dir"),
        default=None,
        metavar="DIR",
        help=_(
            "the folder where e saves runs (made at the first save); default: "
            "{folder}/ in the current folder"
        ).format(folder=DEFAULT_SAVE_DIR),
    )
    group(N_("the app")).add_argument(
        "--lang",
        metavar="LANG",
        help=_(
            "the language of every text: {languages} (default: the one LC_ALL, LC_MESSAGES "
            "or LANG names, else en)"
        ).format(languages=", ".join(available_languages())),
    )
    ssh = group(N_("over SSH (slow links, small terminals)"))
    ssh.add_argument(
        "--fps",
        type=_validated(parse_fps, "--fps"),
        default=None,
        metavar="N",
        help=_("redraw the app at most N times per second (lower it on a slow link; e.g. 2)"),
    )
    ssh.add_argument(
        "--no-mouse",
        action="store_true",
        help=_("turn mouse reporting off: every mouse move is otherwise sent over the link"),
    )
    group("TensorBoard").add_argument(
        "--no-tensorboard",
        dest="tensorboard",
        action="store_false",
        default=argparse.SUPPRESS,
        help=_("do not log"),
    )
    _add_serve_options(parser)
    return parser


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    browser = parser.add_argument_group(_("in a browser (a lecture hall, no SSH account)"))
    browser.add_argument(
        "--serve",
        action="store_true",
        help=_(
            "serve the app to browsers instead of opening it here: each tab that opens the "
            "URL gets its own app, run with the other options given (needs textual-serve: "
            "make run ARGS=--serve installs it)"
        ),
    )
    browser.add_argument(
        "--host",
        type=_validated(parse_host, "--host"),
        default=None,
        metavar="ADDR",
        help=_(
            "with --serve: the address to listen on (default {host}, this machine "
            "only; 0.0.0.0 opens it to the network)"
        ).format(host=DEFAULT_HOST),
    )
    browser.add_argument(
        "--port",
        type=_validated(parse_port, "--port"),
        default=None,
        metavar="N",
        help=_("with --serve: the port to listen on (default {port})").format(port=DEFAULT_PORT),
    )


# Options of the app alone (their argparse defaults say "not given").
APP_OPTIONS = {"speed": None, "fps": None, "no_mouse": False, "save_dir": None}


def _given(args: argparse.Namespace) -> set[str]:
    """The settings given on the command line (the others are absent: SUPPRESS)."""
    return set(Config().to_dict()) & set(vars(args))


def _app_options(args: argparse.Namespace) -> list[str]:
    return [name for name, default in APP_OPTIONS.items() if getattr(args, name) != default]


def _flag(setting: str) -> str:
    """The option that sets ``setting``: "learning_rate" -> "--lr"."""
    if setting == "tensorboard":
        return "--no-tensorboard"
    for _group, flags, name, *_rest in SETTINGS:
        if name == setting:
            return flags[0]
    return "--" + setting.replace("_", "-")


def config_from_args(args: argparse.Namespace) -> Config:
    """The --config file's settings (or the defaults), with the options given on top."""
    base = load_config(args.config) if args.config else Config()
    given = {
        setting: getattr(args, setting) for setting in Config().to_dict() if hasattr(args, setting)
    }
    return replace(base, **given)


def parse_fps(text: str, field: str = "--fps") -> float:
    """Redraws per second: a positive number, at most 60."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise ConfigError(field, _("expected a number, got {text!r}").format(text=text)) from None
    if not (math.isfinite(value) and 0 < value <= 60):
        raise ConfigError(field, _("must be a number in (0, 60], got {text!r}").format(text=text))
    return value


def check_device(device: str) -> str | None:
    """Why ``device`` cannot be used here, or None.  Imports torch, for cuda only."""
    if device == "cpu":
        return None
    import torch

    if not torch.cuda.is_available():
        return _(
            "{device} asked for but no GPU is available here (torch.cuda.is_available() is False)"
        ).format(device=device)
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        return _("{device} asked for but this machine has {count} GPU(s)").format(
            device=device, count=torch.cuda.device_count()
        )
    return None


def not_a_terminal() -> str | None:
    """ "input" or "output" when that one is not a terminal (the app needs both), else None."""
    for name, stream in ((N_("input"), sys.stdin), (N_("output"), sys.stdout)):
        if stream is None or not stream.isatty():
            return name
    return None


def main(argv: Sequence[str] | None = None) -> int:
    encode_standard_streams()  # an ASCII terminal gets "eps" for ε, never an encoding error
    choose_language(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = None if argv is None else list(argv)  # what --serve passes on to the app
    try:
        return _out_of_memory_is_an_error(_run, parser, args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (amal-tui ... | head): stop quietly, with the status a shell
        # gives a program killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:  # noqa: BLE001 - the last line of defence: report, never a bare traceback
        try:
            where = write_crash_report(error)
            detail = _("; the traceback is in {path}").format(path=shown_path(where))
        except OSError:
            detail = ""
        # Escaped: the message may quote a path or a student's text (newlines, escape sequences).
        print(
            _("amal-tui: unexpected error: {error}").format(
                error=f"{type(error).__name__}: {shown_path(str(error))}{detail}"
            ),
            file=sys.stderr,
        )
        return EXIT_ERROR


def _out_of_memory_is_an_error(run, *args) -> int:
    """``run(*args)``, with an allocation that fails (past the memory check: another process
    took the memory, or the run needs more than the data) as a one-line error, exit 2."""
    try:
        return run(*args)
    except (MemoryError, RuntimeError) as error:
        from engine.data.memory import out_of_memory

        reason = out_of_memory(error)
        if reason is None:
            raise
        print(_("amal-tui: error: {reason}").format(reason=reason), file=sys.stderr)
        return EXIT_USAGE


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    _check_serve_options(parser, args)
    if args.check:
        # --no-tensorboard is harmless: nothing is logged by a check anyway.
        ignored = _given(args) - {"mse_name", "linear_name", "tensorboard"}
        ignored.update(_app_options(args))
        if args.headless or args.save or args.config:
            ignored.add("headless" if args.headless else "save" if args.save else "config")
        if ignored:
            parser.error(
                _(
                    "--check only checks the file; {option} is for a run "
                    "(--functions {file} runs the descent with it)"
                ).format(option=_flag(min(ignored)), file=args.check[0])
            )
        return run_check(args)
    if args.json and not args.headless:
        parser.error(_("--json needs --headless (or --check)"))
    if args.save and not args.headless:
        parser.error(_("--save needs --headless (in the app, press e to save)"))
    try:
        config = config_from_args(args)
    except SaveError as error:
        parser.error(_("argument {option}: {problem}").format(option="--config", problem=error))
    if args.save:
        # Before the run: a target that cannot be written costs nothing yet.
        try:
            check_save_target(args.save, keep=[p for p in (config.data, config.functions) if p])
        except SaveError as error:
            parser.error(_("argument {option}: {problem}").format(option="--save", problem=error))
    given = _given(args)
    if args.config and config.functions is not None and "functions" not in given:
        # A shared run file must not run code the person running it never named.
        functions = shown_path(config.functions)
        parser.error(
            _(
                "argument --config: {config} names functions {functions}: "
                "give --functions {functions} to run them"
            ).format(config=shown_path(args.config), functions=functions)
        )
    for setting, (applies, what) in CONDITIONAL.items():
        if setting in given and not applies(config):
            parser.error(
                _("{option} is for {what}: here it would be ignored").format(
                    option=_flag(setting), what=_(what)
                )
            )
    sweep_problem = _sweep_conflict(config, args)
    if sweep_problem:
        parser.error(
            _("argument {option}: {problem}").format(option="--sweep", problem=sweep_problem)
        )
    app_only = _app_options(args)
    if args.headless and app_only:
        parser.error(_("{option} is for the app, not --headless").format(option=_flag(app_only[0])))
    problem = check_device(config.device)
    if problem:
        parser.error(_("argument {option}: {problem}").format(option="--device", problem=problem))
    missing = None if args.headless or args.serve or served_in_a_browser() else not_a_terminal()
    if missing:
        parser.error(
            _(
                "the app needs a terminal, and its {missing} is not one "
                "(--headless runs without the app)"
            ).format(missing=_(missing))
        )
    if args.headless:
        from tui.headless import run_headless

        return run_headless(config, json_output=args.json, save=args.save)
    if args.serve:
        return run_serve(parser, args)
    # The app's runs carry no sweep: its range goes to the sweep field, its view opens once loaded.
    return run_app(
        config.replace(sweep=()),
        sweep=config.sweep,
        fps=args.fps,
        mouse=not args.no_mouse,
        speed=args.speed,
        save_dir=args.save_dir or DEFAULT_SAVE_DIR,
    )


def _check_serve_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--serve serves the app: not a headless run nor a check; --host and --port need it."""
    if not args.serve:
        for option in ("host", "port"):
            if getattr(args, option) is not None:
                parser.error(
                    _("--{option} is for --serve (the app in a browser)").format(option=option)
                )
    elif args.headless or args.check:
        other = "--headless" if args.headless else "--check"
        parser.error(
            _("--serve serves the app to a browser; {other} runs without it").format(other=other)
        )


def run_serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--serve``: the app, with the options given less the server's, to each browser tab."""
    from tui.serve import ServeError, app_arguments, serve

    argv = sys.argv[1:] if args.argv is None else args.argv
    arguments = app_arguments(argv, list(parser._option_string_actions))
    try:
        return serve(arguments, args.host or DEFAULT_HOST, args.port or DEFAULT_PORT)
    except ServeError as error:
        print(_("amal-tui: error: {error}").format(error=error), file=sys.stderr)
        return EXIT_USAGE


def _sweep_conflict(config: Config, args: argparse.Namespace) -> str | None:
    """Why ``--sweep`` cannot run with the other options given (None when it can)."""
    if not config.sweep:
        return None
    if config.compare:
        return _("give either --sweep or --compare, not both")
    if config.functions is not None:
        return _(
            "a sweep batches the reference Functions; a student's run one at a time "
            "(--compare EPS,EPS,... with --functions)"
        )
    if args.save:
        return _("--save keeps one run or a comparison; use --json > FILE for a sweep")
    return None


def run_check(args: argparse.Namespace) -> int:
    """``--check FILE``: the report on stdout (text or JSON); 0 when both Functions pass, else 1.

    Several files, a folder or a glob: :func:`run_class_check`.
    """
    import json

    from engine.student.sandbox import StudentProcess

    (path,) = args.check if len(args.check) == 1 else (None,)
    if (
        path is None
        or os.path.isdir(path)
        or (not os.path.exists(path) and any(c in path for c in "*?["))
    ):
        return run_class_check(args)
    # The file runs in a child process; started first, its torch loads while ours does.
    process = StudentProcess(path).start()
    try:
        from engine.student.check import check_file
    except BaseException:
        process.close()
        raise
    report = check_file(
        path,
        getattr(args, "mse_name", "MSE"),
        getattr(args, "linear_name", "Linear"),
        process=process,
    )
    printed = report.printed()
    if printed:  # on stderr, under a title: stdout may carry the --json report
        sys.stderr.write(printed)
    if args.json:
        print(json.dumps(report.to_dict(), allow_nan=False))
    else:
        print(report.text())
    return 0 if report.passed else 1


def run_class_check(args: argparse.Namespace) -> int:
    """``--check DIR`` (or several files, or a glob): a table and a summary line, or one JSON
    object per file; 0 when every file passes, 1 when any fails, 2 when an argument names none."""
    import json

    from engine.student.batch import check_files, class_table, student_files

    files, problems = student_files(args.check)
    for problem in problems:
        print(
            _("amal-tui: error: argument {option}: {problem}").format(
                option="--check", problem=problem
            ),
            file=sys.stderr,
        )
    if problems or not files:
        return EXIT_USAGE
    progress_shown = sys.stderr.isatty()

    def progress(done: int, total: int, path: str) -> None:
        if progress_shown:  # one line, rewritten: a log or a pipe gets none of it
            sys.stderr.write(
                "\r\x1b[K"
                + _("checked {done}/{total}: {file}").format(
                    done=done, total=total, file=shown_path(os.path.basename(path))
                )
            )
            sys.stderr.flush()

    reports = check_files(
        files,
        getattr(args, "mse_name", "MSE"),
        getattr(args, "linear_name", "Linear"),
        progress=progress,
    )
    if progress_shown:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()
    if args.json:
        for report in reports:
            print(json.dumps(report.to_dict(), allow_nan=False))
    else:
        print(class_table(reports))
    return 0 if all(report.passed for report in reports) else 1


def run_app(
    config: Config,
    fps: float | None = None,
    mouse: bool = True,
    speed: float | None = None,
    save_dir: str = DEFAULT_SAVE_DIR,
    sweep: tuple = (),
) -> int:
    from tui.app import run_app as run_the_app

    return run_the_app(config, fps=fps, mouse=mouse, speed=speed, save_dir=save_dir, sweep=sweep)


def parse_save_dir(text: str, field: str = "--save-dir") -> str:
    """``--save-dir``: a folder that exists or can be made (a file in the way is refused)."""
    problem = save_folder_problem(text)
    if problem is not None:
        raise ConfigError(field, problem)
    return os.path.expanduser(text)


if __name__ == "__main__":
    sys.exit(main())
