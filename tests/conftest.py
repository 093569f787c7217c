import pytest


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path, monkeypatch):
    """Runs write TensorBoard logs under ./runs by default: keep them out of the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _in_english(monkeypatch):
    """Every test starts in English (LANG=fr_FR on the machine would otherwise make the app
    and the command line French: tests/*/test_french*.py ask for French themselves), and
    leaves the language as it found it."""
    from engine import i18n

    if i18n.language_from_environment() is not None:
        for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
            monkeypatch.setenv(variable, "C.UTF-8")
    i18n.set_language("en")
    yield
    i18n.set_language("en")
