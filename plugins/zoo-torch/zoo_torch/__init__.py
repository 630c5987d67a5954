"""zoo-torch: the PyTorch backend for zoo and its AlexNet variants."""

__version__ = "0.1.0"
