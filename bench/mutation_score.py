"""The mutation score of each engine-core module, from mutmut's results (`make mutate`).

mutmut prints one line per mutant (``mutmut results --all true``); this groups them by
module.  A mutant is *detected* when a test failed on it (killed), ran past its time limit
(a loop that no longer ends) or crashed the test process; every other one (survived, or
no test reached it) is a gap.  The mutants listed in tests/EQUIVALENT_MUTANTS.md change
no result (each is said why there): they are left out of the score (not counted as
detected: out of the count altogether), and shown in their own column.

mutmut 3.8.1 shows a mutant whose tests pytest could not even start (exit 4, "not found",
which its runner turns into exit code 255) as a *timeout*: that is read from its own files
(mutants/**/*.meta) and counted as not run, i.e. undetected, never as detected.

    python bench/mutation_score.py [--min 90]   # exit 1 when a module is under --min
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = ROOT / "tests" / "EQUIVALENT_MUTANTS.md"
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}
# "engine.core.theory.x_theory_of__mutmut_12: survived"
LINE = re.compile(r"^\s*(?P<name>[\w.\u01c1]+__mutmut_\d+): (?P<status>.+?)\s*$")
MUTANT_NAME = re.compile(r"`([\w.\u01c1]+__mutmut_\d+)`")


# The exit code mutmut 3.8.1 records when its runner raised instead of running the tests.
RUNNER_ERROR = 255
NOT_RUN = "not run (pytest could not start its tests)"


def runner_errors(mutants: Path = ROOT / "mutants") -> set[str]:
    """The mutants whose tests were never run (exit code 255 in mutmut's .meta files)."""
    out = set()
    for meta in mutants.rglob("*.meta"):
        try:
            codes = json.loads(meta.read_text("utf-8")).get("exit_code_by_key", {})
        except (OSError, ValueError):
            continue
        out.update(name for name, code in codes.items() if code == RUNNER_ERROR)
    return out


def module_of(mutant: str) -> str:
    """engine.core.theory.x_theory_of__mutmut_12 -> engine.core.theory (methods use ǁ, not dots)."""
    return mutant.rsplit(".", 1)[0]


def read_results(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            out[match["name"]] = match["status"]
    return out


def equivalent_mutants(path: Path = EQUIVALENT_FILE) -> set[str]:
    return set(MUTANT_NAME.findall(path.read_text("utf-8"))) if path.is_file() else set()


def table(results: dict[str, str], equivalent: set[str]) -> list[tuple[str, int, int, int, int]]:
    """(module, mutants, detected, equivalent among the undetected, other undetected) per module."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for name, status in results.items():
        row = counts[module_of(name)]
        row["total"] += 1
        if status in DETECTED:
            row["detected"] += 1
        elif name in equivalent:
            row["equivalent"] += 1
        else:
            row["gap"] += 1
    return [
        (module, c["total"], c["detected"], c["equivalent"], c["gap"])
        for module, c in sorted(counts.items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=None, help="fail under this score (%%)")
    parser.add_argument("--results", type=Path, help="read mutmut's results from this file")
    parser.add_argument(
        "--meta", type=Path, default=ROOT / "mutants", help="mutmut's folder with its .meta files"
    )
    args = parser.parse_args(argv)
    if args.results:
        text = args.results.read_text("utf-8")
    else:
        mutmut = Path(sys.executable).parent / "mutmut"
        text = subprocess.run(
            [str(mutmut), "results", "--all", "true"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    results = read_results(text)
    for name in runner_errors(args.meta) & results.keys():
        results[name] = NOT_RUN
    # An interrupted run (or one given mutant names) leaves the others unchecked: not counted.
    unchecked = [name for name, status in results.items() if status == "not checked"]
    results = {name: status for name, status in results.items() if status != "not checked"}
    if unchecked:
        print(f"{len(unchecked)} mutants not checked (left out below): run `make mutate` again")
    if not results:
        print("no mutation results: run `make mutate` first", file=sys.stderr)
        return 1
    equivalent = equivalent_mutants()
    rows = table(results, equivalent)
    print(f"{'module':<24} {'mutants':>7} {'detected':>8} {'equiv.':>6} {'gaps':>5} {'score':>6}")
    under = []
    totals = [0, 0, 0, 0]
    for module, total, detected, equiv, gap in rows:
        # The score leaves out the mutants that cannot change a result.
        score = 100.0 * detected / (total - equiv) if total > equiv else 100.0
        print(f"{module:<24} {total:>7} {detected:>8} {equiv:>6} {gap:>5} {score:>5.1f}%")
        totals = [a + b for a, b in zip(totals, (total, detected, equiv, gap), strict=True)]
        if args.min is not None and score < args.min:
            under.append(module)
    total, detected, equiv, gap = totals
    score = 100.0 * detected / (total - equiv) if total > equiv else 100.0
    print(f"{'all':<24} {total:>7} {detected:>8} {equiv:>6} {gap:>5} {score:>5.1f}%")
    gaps = sorted(n for n, s in results.items() if s not in DETECTED and n not in equivalent)
    if gaps:
        print(f"\n{len(gaps)} undetected (mutmut show NAME for the change):")
        for name in gaps:
            print(f"  {name}: {results[name]}")
    if under:
        print(f"\nunder {args.min:g}%: {', '.join(under)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
