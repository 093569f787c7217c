import pytest


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path, monkeypatch):
    """Runs write TensorBoard logs under ./runs by default: keep them out of the repository."""
    monkeypatch.chdir(tmp_path)
