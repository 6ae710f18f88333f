"""One jittable L-BFGS loop (optax) shared by the logistic probe and the bound-model fit."""

from __future__ import annotations

import jax
import optax
import optax.tree_utils as otu


def minimise_lbfgs(loss, init, max_iter: int, tol: float):
  """Run L-BFGS on `loss` from `init` until the gradient norm drops below `tol` or `max_iter` steps."""
  solver = optax.lbfgs()
  value_and_grad = optax.value_and_grad_from_state(loss)

  def step(carry):
    params, state = carry
    value, grad = value_and_grad(params, state=state)
    updates, state = solver.update(grad, state, params, value=value, grad=grad, value_fn=loss)
    return optax.apply_updates(params, updates), state

  def keep_going(carry):
    _, state = carry
    count = otu.tree_get(state, "count")
    return (count == 0) | ((count < max_iter) & (otu.tree_norm(otu.tree_get(state, "grad")) >= tol))

  params, _ = jax.lax.while_loop(keep_going, step, (init, solver.init(init)))
  return params
