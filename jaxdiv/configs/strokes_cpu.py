"""The stroke-perturbed character pool (`data.source = "strokes"`, KanjiVG): the same pilot, v4 study and
spread factor as `configs/fractals_cpu.py`, on the other candidate pool.

  jaxdiv sweep --config configs/strokes_cpu.py:pilot --workdir runs/strokes_pilot
  jaxdiv sweep --config configs/strokes_cpu.py --plan --power
"""

from jaxdiv.configs import fractals_cpu


def get_config(arg=None):
  config = fractals_cpu.get_config(arg)
  config.data.source = "strokes"
  return config
