"""Train state, optimiser and step budget: plain pytrees and pure builders, so a run can be vmapped."""

from __future__ import annotations

import functools
import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdiv import distributed


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue bit for bit: the PRNG key is kept as raw uint32 key data."""
  step: jax.Array
  params: dict
  batch_stats: dict
  opt_state: optax.OptState
  key: jax.Array

  @property
  def rng(self) -> jax.Array:
    return jax.random.wrap_key_data(self.key)


def decay_mask(params) -> dict:
  """Weight decay on conv and dense kernels only, never on BatchNorm scales/biases or dense biases."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def learning_rate_schedule(train_config, total_steps: int) -> optax.Schedule:
  """Linear warm-up to the peak, then cosine decay to zero over the rest of the budget."""
  warmup = min(int(round(train_config.warmup_fraction * total_steps)), max(total_steps - 1, 0))
  return optax.warmup_cosine_decay_schedule(0.0, train_config.learning_rate, warmup_steps=warmup,
                                            decay_steps=max(total_steps, warmup + 1), end_value=0.0)


def make_optimizer(train_config, total_steps: int) -> optax.GradientTransformation:
  """SGD with Nesterov momentum and decoupled-from-BN weight decay, or AdamW, on one schedule."""
  schedule = learning_rate_schedule(train_config, total_steps)
  if train_config.optimizer == "sgd":
    return optax.chain(optax.add_decayed_weights(train_config.weight_decay, mask=decay_mask),
                       optax.sgd(schedule, momentum=train_config.momentum, nesterov=train_config.nesterov))
  if train_config.optimizer == "adamw":
    return optax.adamw(schedule, b1=train_config.momentum, b2=train_config.adam_b2,
                       weight_decay=train_config.weight_decay, mask=decay_mask)
  raise ValueError(f"train.optimizer must be 'sgd' or 'adamw', got {train_config.optimizer!r}")


def total_steps(train_config, num_examples: int, scale: float = 1.0) -> int:
  """A run's step budget from its own N: `train.steps` when set, else max(ceil(E·N/B), S_min) with
  E = `train.epochs` and S_min = `train.min_steps`; times `scale` (the convergence gate's 2x). Every K at
  one N gets the same steps, and a small N still gets enough of them to learn its task (fixed epochs
  alone starve the small budgets)."""
  if train_config.steps > 0:
    steps = int(train_config.steps)
  elif train_config.epochs <= 0 and train_config.get("min_steps", 0) <= 0:
    raise ValueError("set train.steps, train.epochs or train.min_steps to a positive number")
  else:
    from_epochs = math.ceil(train_config.epochs * num_examples / train_config.batch_size)
    steps = max(1, from_epochs, int(train_config.get("min_steps", 0)))
  return max(1, int(round(scale * steps)))


@functools.lru_cache(maxsize=16)
def _model_init(model, image_shape: tuple):
  """`model.init` compiled once per (model, input shape) and reused by every run and stack: compiling the
  initialisers of a ResNet takes seconds on CPU, once per vmapped stack size it took most of a small study."""
  return jax.jit(lambda key: model.init(key, jnp.zeros((1, *image_shape), jnp.float32), train=False))


def create_state(model, optimizer: optax.GradientTransformation, key: jax.Array, image_shape) -> TrainState:
  """A fresh run from `key`: the init key and the data/augmentation key are split from it."""
  init_key, run_key = jax.random.split(key)
  variables = _model_init(model, tuple(image_shape))(init_key)
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=variables["batch_stats"],
                    opt_state=optimizer.init(params), key=jax.random.key_data(run_key))


def stacked_states(model, optimizer: optax.GradientTransformation, seeds, image_shape, sharding=None) -> TrainState:
  """Fresh states of runs with `seeds`, stacked on a leading runs axis (placed with `sharding`). Built one
  run at a time on the host, so every stack size reuses one compiled initialiser."""
  states = [jax.device_get(create_state(model, optimizer, jax.random.key(seed), image_shape)) for seed in seeds]
  stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *states)
  return jax.device_put(stacked, sharding) if sharding is not None else stacked


def current_step(state) -> int:
  """The step of a run, or of a stack (whose runs always step together)."""
  return int(np.max(distributed.host_value(state.step)))
