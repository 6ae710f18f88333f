"""One file per study (`get_config(arg)`), shipped as `jaxdiv.configs`; `common.parse_arg` reads their args."""
