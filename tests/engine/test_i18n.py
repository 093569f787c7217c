"""The catalogues: every text wrapped in ``_()`` has a French translation, the compiled
``.mo`` the app reads says what the ``.po`` in the repository says, and a translation keeps
its message's ``{fields}`` (a missing one would raise KeyError on screen).

The list of texts is not kept by hand: Babel extracts it from the sources, as ``make i18n``
does, so a new ``_("…")`` left untranslated fails here.
"""

from __future__ import annotations

import gettext
import string
from pathlib import Path

import pytest

babel = pytest.importorskip("babel", reason="Babel (the dev extra) extracts the texts")
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

from engine import i18n  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "engine" / "locales"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def _extracted() -> set[str | tuple[str, str]]:
    ids: set[str | tuple[str, str]] = set()
    for package in ("engine", "tui"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, keywords=KEYWORDS, comment_tags=()
        ):
            ids.add(message)
    return ids


def _catalogue(language: str):
    with open(LOCALES / language / "LC_MESSAGES" / "amal_tui.po", "rb") as po:
        return read_po(po)


def _languages() -> list[str]:
    return [code for code in i18n.available_languages() if code != i18n.DEFAULT_LANGUAGE]


def test_french_is_a_language():
    assert "fr" in _languages()


@pytest.mark.parametrize("language", _languages())
def test_every_text_in_the_sources_is_translated(language):
    extracted = _extracted()
    assert len(extracted) > 300  # the extraction itself found the texts
    catalogue = _catalogue(language)
    untranslated = []
    for message_id in sorted(extracted, key=str):
        message = catalogue.get(message_id)
        strings = () if message is None else message.string
        strings = (strings,) if isinstance(strings, str) else strings
        if message is None or message.fuzzy or not all(strings):
            untranslated.append(message_id)
    assert not untranslated, f"{len(untranslated)} texts have no {language} translation " \
        f"(make i18n, then translate them): {untranslated[:10]}"  # fmt: skip


def _called_with_a_literal(tree) -> list[tuple[int, str]]:
    """Every ``_("text")`` and ``N_("text")`` of a module, inside f-strings too."""
    import ast

    return [
        (node.lineno, node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("_", "N_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def test_every_marked_text_is_extracted():
    # Babel reads no call inside an f-string: f"{_('theory')}" would stay English in French.
    import ast

    extracted = _extracted()
    missed = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for package in ("engine", "tui")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, text in _called_with_a_literal(ast.parse(path.read_text(encoding="utf-8")))
        if text not in extracted
    ]
    assert not missed, "marked but not extracted (take the _() out of the f-string): " + str(missed)


def test_a_text_marked_inside_an_f_string_is_found():
    import ast

    tree = ast.parse("x = f\"{_('theory'):>12}\"\ny = _('loss')")
    assert sorted(_called_with_a_literal(tree)) == [(1, "theory"), (2, "loss")]


@pytest.mark.parametrize("language", _languages())
def test_the_compiled_catalogue_is_the_po_file(language):
    # The .mo is committed (make run needs no Babel): it must say what the .po says.
    with open(LOCALES / language / "LC_MESSAGES" / "amal_tui.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for message in _catalogue(language):
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            assert compiled.ngettext(*message.id, 1) == message.string[0], message.id
            assert compiled.ngettext(*message.id, 5) == message.string[-1], message.id
        else:
            assert compiled.gettext(message.id) == message.string, (
                f"{message.id!r}: the .mo is behind the .po (make i18n)"
            )


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", _languages())
def test_a_translation_keeps_its_fields(language):
    for message in _catalogue(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if "%" in ids[0] and "{" not in ids[0]:
            continue  # argparse's own %-style messages
        for translated in strings:
            assert _fields(translated) == _fields(ids[0]), (ids[0], translated)


@pytest.fixture
def language():
    yield
    i18n.set_language("en")


def test_set_language_switches_and_an_unknown_one_stays_english(language):
    assert i18n._("loading…") == "loading…"
    assert i18n.set_language("fr_FR.UTF-8")
    assert i18n.current_language() == "fr"
    assert i18n._("loading…") == "chargement…"
    assert i18n.ngettext("gradient for {names}", "gradients for {names}", 2) == (
        "gradients pour {names}"
    )
    assert not i18n.set_language("xx")
    assert i18n.current_language() == "en"
    assert i18n._("loading…") == "loading…"


def test_the_environment_chooses_in_gettext_order():
    assert i18n.language_from_environment({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert i18n.language_from_environment({"LC_MESSAGES": "fr_CA", "LANG": "en_US"}) == "fr"
    assert i18n.language_from_environment({"LC_ALL": "C.UTF-8", "LANG": "fr_FR"}) is None
    assert i18n.language_from_environment({"LANG": "de_DE.UTF-8"}) is None
    assert i18n.language_from_environment({}) is None


def test_the_pseudo_language_marks_every_text(language):
    i18n.set_pseudo_language()
    assert i18n._("ready") == "⟦ready⟧"
    assert i18n._("") == ""


def test_french_needs_no_babel_to_run():
    # Babel is a dev tool (make i18n): `make run` on a fresh machine reads the committed .mo.
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['babel'] = None\n"
        "from engine import i18n\n"
        "assert i18n.set_language('fr')\n"
        "print(i18n._('ready'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "prête"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"locales/*/LC_MESSAGES/*.mo"' in pyproject  # shipped with the package
