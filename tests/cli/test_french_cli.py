"""amal-tui in French: --lang fr (or LANG=fr_*) on the command line, the headless run, its
errors and --help; an unknown language; and, under the pseudo-language that marks every
translated text, no English word left outside the marks in a headless run or in --help.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine import i18n
from engine.config import Config
from tui.cli import build_parser, main, run_check
from tui.headless import run_headless

# Words that are the same in every language: names of the lesson, of options and of tools.
# Not a list of texts: a text of amal-tui that is missing from the catalogue shows up as
# English words outside the marks, whatever it says.
NAMES = {
    "MSE", "Linear", "SGD", "sgd", "momentum", "nesterov", "adam", "Adam", "torch", "tensor",
    "TensorBoard", "tensorboard", "amal", "tui", "JSON", "json", "CSV", "TSV", "max",
    "toy", "synthetic", "float32", "float64", "cpu", "cuda", "inf", "nan", "grad", "ctx",
}  # fmt: skip


@pytest.fixture(autouse=True)
def english_after():
    yield
    i18n.set_language("en")


def run_main(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def english_words(text: str) -> list[str]:
    # Options (--max-iter), their placeholders (FILE.py, EPS) and paths name things.
    text = re.sub(r"[\w./-]*\.(?:py|json|csv)\b|--[\w-]+|\b[A-Z][A-Z0-9_]+\b", " ", text)
    return sorted({word for word in i18n.unmarked_words(text) if word not in NAMES})


def test_lang_fr_runs_headless_in_french(capsys):
    code, out, err = run_main(capsys, "--lang", "fr", "--headless", "--no-tensorboard")
    assert code == 0
    assert "\t\t.......Convergence atteinte à n = 1475" in out.splitlines()
    assert "W FINAL vaut" in out and "Théorie: la loss ne peut pas" in out
    # Numbers keep the decimal point: copied from here into Python or --lr, they work.
    assert re.search(r"optimum des moindres carrés 0\.69\d+", out)


def test_json_keys_and_statuses_stay_english(capsys):
    args = ("--headless", "--json", "--no-tensorboard", "--max-iter", "5")
    _, english, _ = run_main(capsys, *args)
    code, french, _ = run_main(capsys, "--lang", "fr", *args)
    assert code == 0
    assert json.loads(french).keys() == json.loads(english).keys()
    assert json.loads(french)["status"] == json.loads(english)["status"] == "capped"


def test_the_environment_chooses_french_unless_lang_says_otherwise(capsys, monkeypatch):
    for variable in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    args = ("--headless", "--no-tensorboard", "--max-iter", "3")
    _, out, _ = run_main(capsys, *args)
    assert "Itérations|" in out and "Sortie de la boucle sans convergence" in out
    _, out, _ = run_main(capsys, "--lang", "en", *args)
    assert "Broke the loop without converging" in out


def test_an_unknown_language_names_the_languages_and_goes_on_in_english(capsys):
    code, out, err = run_main(
        capsys, "--lang", "xx", "--headless", "--no-tensorboard", "--max-iter", "3"
    )
    assert code == 0
    assert "Broke the loop without converging" in out
    said = [line for line in err.splitlines() if "xx" in line]
    assert len(said) == 1 and "en, fr" in said[0] and "English" in said[0]


def test_errors_are_in_french(capsys):
    with pytest.raises(SystemExit) as leaving:
        main(["--lang", "fr", "--lr", "abc", "--headless"])
    assert leaving.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "erreur" in err and "attendu un nombre" in err and "voir amal-tui --help" in err


def test_help_is_in_french(capsys):
    with pytest.raises(SystemExit) as leaving:
        main(["--lang", "fr", "--help"])
    assert leaving.value.code == 0
    out = capsys.readouterr().out
    assert "afficher ce message d'aide et quitter" in out  # argparse's own words too
    assert "la descente:" in out and "pas d'apprentissage ε, un nombre positif" in out


def test_the_pseudo_language_leaves_no_english_in_help():
    i18n.set_pseudo_language()
    text = build_parser().format_help()
    assert "⟦" in text
    assert english_words(text) == []


@pytest.mark.parametrize(
    "config",
    [
        Config(tensorboard=False, max_iter=101),
        Config(tensorboard=False, max_iter=30, compare=(0.01, 0.5, 3.0)),
        Config(tensorboard=False, max_iter=30, sweep=(0.001, 3.0, 4)),
        Config(tensorboard=False, max_iter=30, data="synthetic", test_fraction=0.2),
    ],
    ids=["run", "compare", "sweep", "synthetic"],
)
def test_the_pseudo_language_leaves_no_english_in_a_headless_run(capsys, config):
    i18n.set_pseudo_language()
    run_headless(config, json_output=False, save=None)
    out, err = capsys.readouterr()
    assert "⟦" in out
    assert english_words(out + err) == []


STUDENTS = Path(__file__).parents[1] / "students"


@pytest.mark.parametrize(
    "student",
    ["mse_missing_factor_2.py", "linear_b_mean.py", "linear_missing.py", "script_at_import.py",
     "mse_forward_wrong_dim.py", "linear_vector_bias.py", "no_such_file.py"],
)  # fmt: skip
def test_the_pseudo_language_leaves_no_english_in_the_diagnosis(capsys, student):
    # The diagnosis of a student's Functions, the child process's own messages included
    # (it learns the language from its parent).  Python's own exception texts are not
    # amal-tui's: these files raise none.
    i18n.set_pseudo_language()
    run_check(build_parser().parse_args(["--check", str(STUDENTS / student)]))
    out, err = capsys.readouterr()
    # forward and backward name the methods, not what happens to them.
    words = [w for w in english_words(out + err) if w not in {"forward", "backward"}]
    assert "⟦" in out and words == []


def test_the_diagnosis_is_in_french(capsys):
    code, out, _ = run_main(capsys, "--lang", "fr", "--check", str(STUDENTS / "linear_b_mean.py"))
    assert code == 1
    assert "une moyenne au lieu d'une somme sur les lignes" in out
    assert "✗ vérification échouée: corrigez Linear" in out
