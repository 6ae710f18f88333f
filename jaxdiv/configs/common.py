"""What every config file shares: one typed parser for its `get_config(arg)` argument (big_vision style)."""

from __future__ import annotations


def parse_arg(arg: str | None, *, lazy: bool = False, **spec):
  """`"K=400,n=25,runlocal"` -> ConfigDict(K=400, n=25, runlocal=True), typed by `spec`'s defaults.

  Each `name=default` in `spec` declares an argument; its value is converted to the default's type (a
  bool is true for a bare name or 1/true/yes). Unknown names are an error that lists the known ones, so
  a typo never silently falls back to the default. With `lazy`, unknown names are kept as strings.
  """
  import ml_collections
  out = dict(spec)
  for item in filter(None, (arg or "").split(",")):
    name, sep, text = item.partition("=")
    if name not in spec and not lazy:
      raise ValueError(f"config argument {name!r} is not one of {sorted(spec)}")
    default = spec.get(name, text)
    if isinstance(default, bool):
      out[name] = (not sep) or text.lower() in ("1", "true", "yes")
    elif not sep:
      raise ValueError(f"config argument {name!r} needs a value: {name}=...")
    else:
      out[name] = type(default)(text) if default is not None else text
  return ml_collections.ConfigDict(out)
