import subprocess
import sys

import keras_lie


def test_public_api_resolves():
    for name in keras_lie.__all__:
        assert getattr(keras_lie, name) is not None, name


def test_import_is_lazy():
    code = "import sys, keras_lie; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
