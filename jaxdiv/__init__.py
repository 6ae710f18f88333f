"""jaxdiv: how to split a fixed supervised pre-training budget between classes and samples per class."""

__version__ = "0.1.0"
