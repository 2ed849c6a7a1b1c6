import pytest

from tests.ops.test_make_run import EyeProcess


@pytest.fixture
def eye(tmp_path):
    """A whole Eye as `make run` starts it, ended with everything it started."""
    process = EyeProcess(tmp_path / "var")
    yield process
    process.terminate()
