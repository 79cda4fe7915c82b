import subprocess
import sys
from pathlib import Path

import keras_lie


def test_public_api_resolves():
    for name in keras_lie.__all__:
        assert getattr(keras_lie, name) is not None, name


def test_import_is_lazy():
    code = "import sys, keras_lie; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


SAVE_MODELS = """
import functools, sys
import keras, keras_lie
from keras_lie.keys import generate_key
from keras_lie.layers import Encrypt
from keras_lie.models import build_classifier, pyramidnet
folder = sys.argv[1]
key = generate_key("learnable")
key.save(folder + "/key.json")
tiny = functools.partial(pyramidnet, depth=8, alpha=4)
build_classifier(folder + "/key.json", backbone=tiny, input_shape=(16, 16, 3), num_classes=3).save(folder + "/clf.keras")
inputs = keras.Input((16, 16, 3), dtype="uint8")
keras.Model(inputs, Encrypt(folder + "/key.json")(inputs)).save(folder + "/enc.keras")
print(key.fingerprint)
"""


def _python(code, *args, cwd=None):
    import os

    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)


def test_keras_load_model_after_import_keras_lie_alone_in_fresh_processes(tmp_path):
    fingerprint = _python(SAVE_MODELS, tmp_path).stdout.strip().splitlines()[-1]
    # Whichever keras-lie module comes first, even one below the layers (blocks, security) that
    # imports Keras itself: registration never meets a half-initialised module.
    # Keras first imported by a keras-lie module (layers, a leaf of models) waits for that import to finish.
    for imports in ("import keras_lie, keras", "import keras, keras_lie", "import keras_lie.blocks, keras",
                    "import keras_lie.security, keras", "import keras_lie.layers, keras",
                    "import keras_lie.models.shake_drop, keras", "import keras_lie.data, keras"):
        loaded = ("print(keras.models.load_model('clf.keras').name); "
                  "assert type(keras.__loader__) is type(keras.__spec__.loader) is type(keras_lie.__loader__)")
        result = _python(f"{imports}; import keras_lie; {loaded}", cwd=tmp_path)
        assert result.returncode == 0 and "classifier" in result.stdout, result.stderr[-2000:]
        assert "could not register" not in result.stderr, (imports, result.stderr[-2000:])
    # An Encrypt layer records its key by absolute path: it loads from any working folder.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _python(f"import keras_lie, keras; keras.models.load_model({str(tmp_path / 'enc.keras')!r}); print('ok')",
                     cwd=elsewhere)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
    # The key moved: the error names the fingerprint and never suggests a new key; registering the key works.
    (tmp_path / "key.json").rename(elsewhere / "key.json")
    result = _python("import keras_lie, keras; keras.models.load_model('enc.keras')", cwd=tmp_path)
    assert result.returncode != 0
    assert keras_lie.keys.short_fingerprint(fingerprint) in result.stderr and "register_key" in result.stderr
    assert "keygen" not in result.stderr
    moved = ("import keras_lie, keras; keras_lie.layers.register_key(keras_lie.load_key('elsewhere/key.json')); "
             "keras.models.load_model('enc.keras'); print('ok')")
    result = _python(moved, cwd=tmp_path)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def test_the_paper_s_contribution_and_the_data_entry_points_are_at_the_top_level():
    from keras_lie.layers import BlockStem
    from keras_lie.models import build_classifier

    assert keras_lie.BlockStem is BlockStem and keras_lie.build_classifier is build_classifier
    assert {"load_source", "make_pipeline", "registry"} <= set(keras_lie.__all__)
    # The one list is the stub type checkers read: every name in it is public, and no other.
    stub = (Path(keras_lie.__file__).parent / "__init__.pyi").read_text()
    assert all(f"{name} as {name}" in stub for name in keras_lie.__all__)
