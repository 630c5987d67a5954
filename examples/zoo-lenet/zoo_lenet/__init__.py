"""zoo-lenet: LeNet-5 for zoo's PyTorch and Keras backends, plus scikit-learn's 8x8 digits.

A third-party zoo plugin written against zoo's public API only
(``docs/plugins.md``). :mod:`zoo_lenet.plugin` is what zoo loads; the
builders and the loader it names are imported only when used.
"""

__version__ = "0.1.0"
