"""zoo-keras: the Keras 3 backend for zoo and its AlexNet variants."""

__version__ = "0.1.0"
