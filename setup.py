"""keras-lie: learnable image encryption for TensorFlow/Keras."""

from pathlib import Path

from setuptools import find_packages, setup

version: dict = {}
exec(Path("keras_lie/version.py").read_text(), version)

setup(
    name="keras-lie",
    version=version["__version__"],
    description=(
        "Learnable image encryption (Tanaka, ICCE-TW 2018) for TensorFlow/Keras: encrypt "
        "images so people cannot recognise them while networks still learn from them."
    ),
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_lie", "keras_lie.*"]),
    package_data={"keras_lie": ["__init__.pyi", "py.typed"]},  # the public names' one list; typed
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3",
        "numpy",
        "tensorflow-datasets",
        "importlib_resources",  # tensorflow-datasets needs it to prepare a dataset, without declaring it
        "matplotlib",
    ],
    extras_require={
        "beam": ["apache-beam>=2.60"],  # encrypt --format tfds: the Beam pipeline
        "test": ["pytest>=7", "pytest-xdist", "hypothesis>=6", "nbclient", "nbformat", "ipykernel", "ruff==0.17.6",
                 "pillow", "apache-beam>=2.60"],
    },
    entry_points={"console_scripts": ["keras-lie=keras_lie.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Security :: Cryptography",
    ],
)
