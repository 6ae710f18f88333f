"""jaxdiv: how to split a fixed supervised pre-training budget between classes and samples per class."""

from jaxdiv.runtime import configure_cpu_devices as _configure_cpu_devices

__version__ = "0.1.0"

# Before anything imports JAX's backends: one single-threaded host device per core (see jaxdiv.runtime).
_configure_cpu_devices()
