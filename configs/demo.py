"""The demo study (`jaxdiv demo`): see jaxdiv/sweep/demo_config.py. `configs/demo.py:quick` is the test-size one.

  jaxdiv sweep --config configs/demo.py --workdir runs/demo
"""

from jaxdiv.sweep.demo_config import demo_config


def get_config(arg=None):
  return demo_config(quick=arg == "quick")
