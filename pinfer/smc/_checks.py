"""Boundary checks shared by the entry points of :mod:`pinfer.smc` (private).

Built on :mod:`pinfer.validation`: concrete values are checked on the host before
anything is traced (a traced ESS fraction is guarded by ``check_fraction`` itself);
a NaN step found by a checked run raises through ``eqx.branched_error_if``. The
kernels they protect do no checking.
"""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from pinfer.smc._broadcast import stretched_observation
from pinfer.smc.ssm import AbstractStateSpaceModel, implements
from pinfer.types import ArrayTree
from pinfer.validation import check_array, check_finite, check_protocol, concrete

__all__ = [
    "check_log_weights",
    "check_model",
    "check_observation",
    "first_observation",
    "nan_step_message",
    "raise_at_nan_step",
]

_SSM = "pinfer.smc.AbstractStateSpaceModel"


def check_log_weights(
    value: Any, name: str, where: str, *, nonzero: bool = False
) -> jax.Array:
    """``[N]`` float log-weights; concrete ones must be finite or ``-inf`` (and,
    with ``nonzero``, not all ``-inf``: there is nothing to resample from)."""
    array = check_array(value, name, where=where, ndim=1, dtype="float")
    if array.shape[0] == 0:
        raise ValueError(
            f"{where}: `{name}` is empty; pass one log-weight per particle."
        )
    check_finite(
        array,
        name,
        where=where,
        allow_neg_inf=True,
        hint="Log-weights are finite or -inf (weight zero).",
    )
    values = concrete(array) if nonzero else None
    if values is not None and not (values > -np.inf).any():
        raise ValueError(
            f"{where}: `{name}` are all -inf (every weight zero), got {values.size} "
            "of them; there is nothing to resample from."
        )
    return array


def check_model(model: Any, where: str, needed: Sequence[str]) -> None:
    """Raise a ``TypeError`` naming the methods of ``needed`` the model lacks."""
    check_protocol(
        model,
        "model",
        needed,
        where=where,
        what="a state-space model",
        hint=f"A state-space model subclasses {_SSM} and implements sample_initial, "
        "sample_transition and log_observation (sample_observation for simulation).",
        has=implements_or_has,
    )


def implements_or_has(model: Any, name: str) -> bool:
    """``implements`` for subclasses of the contract, a callable attribute for
    duck-typed models."""
    if isinstance(model, AbstractStateSpaceModel):
        return implements(model, name)
    return callable(getattr(model, name, None))


def first_observation(observations: ArrayTree, where: str) -> tuple[ArrayTree, int]:
    """Shape structs of one observation, and ``T``; checks the leading time axis."""
    leaves = jax.tree.leaves(observations)
    if not leaves or any(jnp.ndim(leaf) == 0 for leaf in leaves):
        raise ValueError(
            f"{where}: `observations` must be an array (or pytree of arrays) with a "
            f"leading time axis T, got {_short(observations)}."
        )
    num_steps = jnp.shape(leaves[0])[0]
    if any(jnp.shape(leaf)[0] != num_steps for leaf in leaves):
        raise ValueError(
            f"{where}: every leaf of `observations` needs the same leading time axis, "
            f"got shapes {[tuple(jnp.shape(leaf)) for leaf in leaves]}."
        )
    one = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(jnp.shape(leaf)[1:], jnp.result_type(leaf)),
        observations,
    )
    return one, int(num_steps)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _shapes(tree: ArrayTree) -> Any:
    shapes = [tuple(leaf.shape) for leaf in jax.tree.leaves(tree)]
    return shapes[0] if len(shapes) == 1 else shapes


_CHECKED: dict = {}  # shapes already checked (a streaming loop checks once)


def _signature(*trees: Any) -> Any:
    """A hashable summary of pytrees' structure, shapes and dtypes."""
    leaves, treedef = jax.tree.flatten(trees)
    kinds = tuple(
        (tuple(jnp.shape(leaf)), str(jnp.result_type(leaf)))
        if hasattr(leaf, "shape") or isinstance(leaf, (int, float, complex))
        else type(leaf)
        for leaf in leaves
    )
    return treedef, kinds


def check_observation(
    model: Any,
    observation: ArrayTree,
    particle: ArrayTree,
    where: str,
    *,
    stacked: int | None = None,
) -> None:
    """Check one observation's structure against the model, before tracing.

    ``observation`` and ``particle`` are shape structs of one time step and one
    particle. The expected shape is the model's ``observation_shape`` or, when it
    declares none, the shape ``sample_observation`` draws; ``log_observation`` must
    give a scalar; and when the model declares neither, an observation whose size-1
    axis is broadcast against the state inside ``log_observation`` is refused.
    ``stacked`` is ``T`` when the observations came stacked (for the message).
    """
    try:
        key = (type(model), _signature(model, observation, particle))
        hash(key)
    except TypeError:  # an unhashable static field: check every time
        key = None
    if key is not None and key in _CHECKED:
        return
    _check_observation(model, observation, particle, where, stacked)
    if key is not None:
        if len(_CHECKED) > 256:
            _CHECKED.clear()
        _CHECKED[key] = True


def _check_observation(model, observation, particle, where, stacked) -> None:
    name = type(model).__name__
    seen = _shapes(observation)
    expected = getattr(model, "observation_shape", None)
    source = "model.observation_shape"
    if expected is not None and len(jax.tree.leaves(observation)) == 1:
        expected = tuple(expected)
        if tuple(seen) != expected:
            raise ValueError(
                _shape_message(where, name, seen, expected, source, stacked)
            )
    elif expected is None and implements_or_has(model, "sample_observation"):
        drawn = jax.eval_shape(
            lambda: model.sample_observation(jax.random.key(0), _zeros(particle), 0)
        )
        expected, source = _shapes(drawn), "the shape model.sample_observation draws"
        same_tree = jax.tree.structure(drawn) == jax.tree.structure(observation)
        if not same_tree or _shapes(drawn) != seen:
            raise ValueError(
                _shape_message(where, name, seen, expected, source, stacked)
            )
    try:
        out = jax.eval_shape(
            lambda: model.log_observation(_zeros(particle), _zeros(observation), 0)
        )
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: {name}.log_observation fails on one particle of shape "
            f"{_shapes(particle)} and one observation of shape {seen}: {error}"
        ) from error
    out_shape = getattr(out, "shape", None)
    if out_shape != ():
        got = _shapes(out) if out_shape is None else out_shape
        raise ValueError(
            f"{where}: {name}.log_observation must return a scalar for one particle "
            f"and one observation, got {got}"
            f" for a particle of shape {_shapes(particle)} and an observation of shape "
            f"{seen}. Sum over the observation's entries inside it, and check that "
            "each observation has the shape the model expects."
        )
    if expected is None:
        stretch = stretched_observation(model.log_observation, particle, observation)
        if stretch is not None:
            before, after = stretch
            raise ValueError(
                f"{where}: one observation has shape {before}, but {name}."
                f"log_observation broadcasts it against the state to shape {after}: "
                "the observations probably have the wrong shape (e.g. [T, 1] for a "
                f"model of {after}-shaped observations). Pass observations of shape "
                f"[T, {', '.join(map(str, after))}], or, if the broadcast is meant, "
                "declare the model's `observation_shape` so that it is checked "
                "exactly."
            )


def _zeros(tree: ArrayTree) -> ArrayTree:
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), tree)


def _shape_message(where, name, seen, expected, source, stacked) -> str:
    one = f"one observation of shape {tuple(seen)}"
    lead = (
        f"`observations` have shape {(stacked, *seen)}, i.e. {one}"
        if stacked is not None
        else f"`observation` has shape {tuple(seen)}"
    )
    if not isinstance(expected, tuple):
        fix = " Pass observations whose leaves have these shapes after the time axis"
    elif stacked is not None:
        fix = (
            f" Pass observations of shape ({stacked}, {', '.join(map(str, expected))})"
            " with time on the first axis"
        )
    else:
        fix = " Pass one observation (no time axis)"
    scalar_hint = (
        "; for scalar observations add a trailing axis: y[:, None]."
        if tuple(seen) == () and expected == (1,)
        else "."
    )
    return (
        f"{where}: {lead}, but {name} expects one observation of shape {expected} "
        f"({source}).{fix}{scalar_hint}"
    )


def nan_step_message(where: str, step: int | None) -> str:
    """The message of a NaN log-likelihood (the NaN policy of pinfer.smc)."""
    at = f"at step {step} (observations[{step}])" if step is not None else "at a step"
    return (
        f"{where}: NaN log-likelihood {at}: the model's log_observation (or the "
        "proposal's log-weight) returned NaN or +inf for at least one particle, which "
        "makes the log-evidence NaN. Check the model for that observation and the "
        "current parameters; return -inf for an impossible observation."
    )


# Under jit the step is named by one of this many messages (equinox indexes a list
# of static strings); later steps share the last one.
_MAX_NAMED_STEPS = 1024


def raise_at_nan_step(value: Any, nan_step: Any, where: str) -> Any:
    """Raise when ``nan_step >= 0``: now (``ValueError``, message first) when it is
    concrete, through ``eqx.branched_error_if`` when traced; return ``value``."""
    step = concrete(nan_step)
    if step is not None:
        if int(step) >= 0:
            raise ValueError(nan_step_message(where, int(step)))
        return value
    messages = [nan_step_message(where, t) for t in range(_MAX_NAMED_STEPS)]
    messages.append(
        nan_step_message(where, None) + f" (step {_MAX_NAMED_STEPS} or later)"
    )
    index = jnp.clip(nan_step, 0, _MAX_NAMED_STEPS)
    return eqx.branched_error_if(value, nan_step >= 0, index, messages)
