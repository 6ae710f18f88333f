"""The train step: one pure function of (state, batch), jitted with explicit shardings or vmapped over runs.

The batch arrives as uint8 images; augmentation keys derive from (run key, step), so a resumed or a
stacked run sees exactly the batches of an uninterrupted single run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxdiv.data.pipeline import augment_batch, batch_positions, normalise
from jaxdiv.train.state import TrainState

MASKED_LOGIT = -1e9


def masked_cross_entropy(logits: jax.Array, labels: jax.Array, num_classes, label_smoothing: float):
  """Mean cross-entropy and accuracy over the first `num_classes` logits; padded ones never win or count."""
  valid = jnp.arange(logits.shape[-1]) < num_classes
  logits = jnp.where(valid, logits, MASKED_LOGIT)
  targets = jax.nn.one_hot(labels, logits.shape[-1])
  if label_smoothing:
    targets = (1.0 - label_smoothing) * targets + label_smoothing * valid / num_classes
  loss = optax.softmax_cross_entropy(logits, targets).mean()
  accuracy = (jnp.argmax(logits, -1) == labels).mean()
  return loss, accuracy


def train_step(state: TrainState, images: jax.Array, labels: jax.Array, num_classes, *, model, optimizer,
               label_smoothing: float = 0.0, max_shift: int = 0, flip: bool = False,
               batch_sharding: jax.sharding.Sharding | None = None) -> tuple[TrainState, dict]:
  """Augment, forward, backward and update on one batch of uint8 images."""
  augment_key = jax.random.fold_in(jax.random.fold_in(state.rng, 1), state.step)
  images = normalise(augment_batch(augment_key, images, max_shift, flip))
  if batch_sharding is not None:
    images = jax.lax.with_sharding_constraint(images, batch_sharding)

  def loss_fn(params):
    logits, updates = model.apply({"params": params, "batch_stats": state.batch_stats}, images, train=True,
                                  mutable=["batch_stats"])
    loss, accuracy = masked_cross_entropy(logits.astype(jnp.float32), labels, num_classes, label_smoothing)
    return loss, (accuracy, updates["batch_stats"])

  (loss, (accuracy, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
  state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                        batch_stats=batch_stats, opt_state=opt_state)
  return state, {"loss": loss, "accuracy": accuracy}


def memory_step(state: TrainState, pool: jax.Array, positions: jax.Array, labels: jax.Array, num_classes, *,
                batch_size: int, **step_kwargs) -> tuple[TrainState, dict]:
  """`train_step` on the batch drawn from a device-resident image pool.

  `positions[i]` is the pool row of the run's i-th example; the step's batch is a seeded epoch-wise
  permutation of the run's examples, a pure function of (run key, step). Runs share one pool.
  """
  order_key = jax.random.fold_in(state.rng, 0)
  batch = batch_positions(order_key, positions.shape[0], batch_size, state.step)
  return train_step(state, pool[positions[batch]], labels[batch], num_classes, **step_kwargs)


def step_kwargs(train_config, data_config, model, optimizer) -> dict:
  """The keyword arguments of `train_step` from the config's train and data slices. A random-resized
  crop is flipped on the host already."""
  return dict(model=model, optimizer=optimizer, label_smoothing=train_config.label_smoothing,
              max_shift=data_config.max_shift, flip=data_config.flip and data_config.crop != "random_resized")
