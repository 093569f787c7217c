"""``amal-tui``: parse the arguments into one validated Config, then run headless or open the app.

Nothing here imports torch or textual at module level: the app must paint its
first screen before torch loads, and ``--help`` must answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from engine.config import (
    Config,
    ConfigError,
    make_config,
    parse_device,
    parse_dtype,
    parse_learning_rate,
    parse_logdir,
    parse_max_iter,
    parse_optional_seed,
    parse_seed,
    parse_threshold,
)

EXIT_ERROR, EXIT_USAGE = 1, 2

DESCRIPTION = """\
Watch gradient descent happen, one iteration at a time, on the hand-written
MSE and Linear autograd Functions of the first AMAL PyTorch notebook.

Without --headless it opens the terminal app: s steps one iteration, r runs
and pauses, x resets, l toggles a log scale, + and - change the learning
rate, ? shows every key, q quits.  With --headless it runs to the end and
prints the notebook's log (or one JSON object with --json)."""

EPILOG = """\
examples:
  amal-tui                                  the app, on the notebook's problem
  amal-tui --headless                       the notebook's run: converges at n = 1475
  amal-tui --headless --lr 0.0001 --init-seed 42 --max-iter 1001
                                            the notebook's slow run, capped
  amal-tui --headless --json --lr 0.5 --init-seed 42
                                            one JSON object: status, losses, W, b
  tensorboard --logdir runs                 look at the logged losses

the problem: torch.manual_seed(SEED), then X = randn(50, 13), Y = randn(50, 3),
W = randn(13, 3), b = randn(1, 3).  With --init-seed N, W and b are drawn after
seeding with N instead (the notebook's second and third runs).

exit status: 0 converged or capped, 3 diverged, 2 bad arguments, 130
interrupted (Ctrl+C), 1 unexpected error (a crash report file is written)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line naming the problem; the usage block would bury it.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _validated(parser: Callable[..., object], option: str) -> Callable[[str], object]:
    def parse(text: str) -> object:
        try:
            return parser(text, option)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(error.reason) from None

    parse.__name__ = option  # argparse names the type in some messages
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="amal-tui",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Config()
    mode = parser.add_argument_group("mode")
    mode.add_argument(
        "--headless", action="store_true", help="run to the end without the app and print the log"
    )
    mode.add_argument(
        "--json",
        action="store_true",
        help="with --headless: print one JSON object instead of the log",
    )
    hyper = parser.add_argument_group("the descent")
    hyper.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        metavar="EPS",
        type=_validated(parse_learning_rate, "--lr"),
        default=defaults.learning_rate,
        help=f"learning rate ε, a positive number (default {defaults.learning_rate})",
    )
    hyper.add_argument(
        "--seed",
        type=_validated(parse_seed, "--seed"),
        default=defaults.seed,
        help=f"seed of the data (and of W, b without --init-seed) (default {defaults.seed})",
    )
    hyper.add_argument(
        "--init-seed",
        metavar="N",
        type=_validated(parse_optional_seed, "--init-seed"),
        default=defaults.init_seed,
        help="draw W and b after seeding with N instead",
    )
    hyper.add_argument(
        "--threshold",
        metavar="LOSS",
        type=_validated(parse_threshold, "--threshold"),
        default=defaults.threshold,
        help=f"stop once an iteration's loss is at or under LOSS (default {defaults.threshold})",
    )
    hyper.add_argument(
        "--max-iter",
        metavar="N",
        type=_validated(parse_max_iter, "--max-iter"),
        default=defaults.max_iter,
        help=f"stop after N iterations (default {defaults.max_iter})",
    )
    hyper.add_argument(
        "--dtype",
        type=_validated(parse_dtype, "--dtype"),
        default=defaults.dtype,
        help=f"float32 (the notebook's) or float64 (default {defaults.dtype})",
    )
    hyper.add_argument(
        "--device",
        type=_validated(parse_device, "--device"),
        default=defaults.device,
        help=f"cpu, cuda or cuda:N (default {defaults.device})",
    )
    log = parser.add_argument_group("TensorBoard")
    log.add_argument(
        "--logdir",
        metavar="DIR",
        type=_validated(parse_logdir, "--logdir"),
        default=defaults.logdir,
        help=f"write the loss of every iteration as Loss/train under DIR (default {defaults.logdir}/)",
    )
    log.add_argument(
        "--no-tensorboard", dest="tensorboard", action="store_false", help="do not log"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    return make_config(
        learning_rate=args.learning_rate,
        seed=args.seed,
        init_seed=args.init_seed,
        threshold=args.threshold,
        max_iter=args.max_iter,
        dtype=args.dtype,
        device=args.device,
        tensorboard=args.tensorboard,
        logdir=args.logdir,
    )


def check_device(device: str) -> str | None:
    """Why ``device`` cannot be used here, or None.  Imports torch, for cuda only."""
    if device == "cpu":
        return None
    import torch

    if not torch.cuda.is_available():
        return (
            f"{device} asked for but no GPU is available here (torch.cuda.is_available() is False)"
        )
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        return f"{device} asked for but this machine has {torch.cuda.device_count()} GPU(s)"
    return None


def write_crash_report(error: BaseException) -> str:
    """Write the traceback to a file and return its path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = os.environ.get("AMAL_TUI_CRASH_DIR") or tempfile.gettempdir()
    path = os.path.join(folder, f"amal-tui-crash-{stamp}-{os.getpid()}.txt")
    with open(path, "w") as report:
        report.write(f"amal-tui crashed at {time.ctime()}\nargv: {sys.argv}\n\n")
        report.write("".join(traceback.format_exception(error)))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json and not args.headless:
        parser.error("--json needs --headless")
    try:
        config = config_from_args(args)
        problem = check_device(config.device)
        if problem:
            parser.error(f"argument --device: {problem}")
        if args.headless:
            from engine.headless import run_headless

            return run_headless(config, json_output=args.json)
        return run_app(config)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (amal-tui ... | head): stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - the last line of defence: report, never a bare traceback
        try:
            where = write_crash_report(error)
            detail = f"; the traceback is in {where}"
        except OSError:
            detail = ""
        print(
            f"amal-tui: unexpected error: {type(error).__name__}: {error}{detail}", file=sys.stderr
        )
        return EXIT_ERROR


def run_app(config: Config) -> int:
    from tui.app import AmalApp

    app = AmalApp(config)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
