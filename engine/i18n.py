"""The language of every text a user reads: one gettext catalogue (domain ``amal_tui``) per
language under ``engine/locales/``, English (the source text) when none is chosen.

In the engine, not in ``tui``: the engine's own messages (a setting refused by
``engine.config``, the diagnosis of a student's Functions) are read by users too, and the
engine may import nothing of ``tui``.  Pure standard library, no torch, no terminal code.

``_("text")`` translates at the moment it is called, so a text built at import time (a
module's table) is marked with ``N_("text")`` and translated where it is shown:
``_(row.word)``.  Adding a language is adding ``engine/locales/<code>/LC_MESSAGES/amal_tui.po``
(and its compiled ``.mo``: ``make i18n``).
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping

DOMAIN = "amal_tui"
LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locales")
DEFAULT_LANGUAGE = "en"

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = DEFAULT_LANGUAGE


def _(message: str) -> str:
    """``message`` in the current language (itself in English or when untranslated)."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in the current language."""
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it (a table built at import)."""
    return message


def available_languages() -> tuple[str, ...]:
    """English and every language with a compiled catalogue, sorted: ("en", "fr")."""
    found = set()
    try:
        for code in os.listdir(LOCALE_DIR):
            if os.path.isfile(os.path.join(LOCALE_DIR, code, "LC_MESSAGES", DOMAIN + ".mo")):
                found.add(code)
    except OSError:
        pass
    return (DEFAULT_LANGUAGE, *sorted(found - {DEFAULT_LANGUAGE}))


def current_language() -> str:
    """The code of the language texts are in now."""
    return _language


def normalise(code: str) -> str:
    """A locale name to a language code: "fr_FR.UTF-8" -> "fr", "C" -> "c"."""
    return code.split(".")[0].split("@")[0].split("_")[0].split("-")[0].strip().lower()


def language_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The language the environment asks for, in gettext's order (LANGUAGE is left out:
    it lists fallbacks, not a choice): LC_ALL, then LC_MESSAGES, then LANG; None when it
    names none amal-tui has (C, POSIX, an unknown language): English then."""
    environ = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable)
        if value:
            code = normalise(value)
            return code if code in available_languages() else None
    return None


def set_language(code: str) -> bool:
    """Switch every later ``_()`` to ``code`` ("fr", "fr_FR.UTF-8"); False (and English) when
    no catalogue for it exists or it cannot be read."""
    global _translation, _language
    language = normalise(code)
    if language == DEFAULT_LANGUAGE:
        _translation, _language = gettext.NullTranslations(), DEFAULT_LANGUAGE
        return True
    try:
        translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    except OSError:
        _translation, _language = gettext.NullTranslations(), DEFAULT_LANGUAGE
        return False
    _translation, _language = translation, language
    return True


LANGUAGE_VARIABLE = "AMAL_TUI_LANGUAGE"
"""How a process amal-tui starts (the check's child) learns the language to write in."""


def use_language_of_parent() -> None:
    """In a child process: the language the process that started it is in."""
    language = os.environ.get(LANGUAGE_VARIABLE)
    if language == "pseudo":
        set_pseudo_language()
    elif language:
        set_language(language)


class PseudoTranslations(gettext.NullTranslations):
    """Every message wrapped in markers (``⟦text⟧``): a test renders a screen with it and
    finds any text left outside markers, i.e. never passed through ``_()``."""

    OPEN, CLOSE = "⟦", "⟧"

    def gettext(self, message: str) -> str:
        return f"{self.OPEN}{message}{self.CLOSE}" if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def set_pseudo_language() -> None:
    """The pseudo-language of the tests (see :class:`PseudoTranslations`)."""
    global _translation, _language
    _translation, _language = PseudoTranslations(), "pseudo"


def unmarked_words(text: str) -> list[str]:
    """The words of ``text`` outside the pseudo-language's markers: a text shown under
    :func:`set_pseudo_language` that never went through ``_()``.  A marked text wrapped over
    several lines counts as marked; one cut short at the width of the screen (its closing
    marker lost) counts as marked to the end of its line."""
    import re

    opened, closed = PseudoTranslations.OPEN, PseudoTranslations.CLOSE
    previous = None
    while previous != text:  # innermost first: a marked text may hold marked texts
        previous = text
        text = re.sub(f"{opened}[^{opened}{closed}]*{closed}", " ", text)
    text = re.sub(f"{opened}[^\\n]*", " ", text)
    text = re.sub(f"[^\\n]*{closed}", " ", text)
    return re.findall(r"[A-Za-z][A-Za-z'’]+", text)
