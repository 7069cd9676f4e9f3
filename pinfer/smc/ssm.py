"""The state-space model contract that pinfer's particle filters consume.

A state-space model is a Markov chain ``x`` observed through noisy observations ``y``::

    x_0 ~ mu(x_0)                          sample_initial        (before any data)
    x_t ~ f_t(x_t | x_{t-1}),  t = 0..T-1  sample_transition     (log_transition)
    y_t ~ g_t(y_t | x_t)                   log_observation

so ``observations[t]`` observes the state reached after ``t + 1`` transitions; ``x_0``
is the prior state before the first observation. Every method is written for ONE
particle; the filters ``vmap`` them over the particle axis.

Two population-level hooks have defaults built from the one-particle methods:
``sample_initial_batch(key, num_particles)`` and ``sample_transition_batch(key,
x_prev, t)`` (one key split per particle, then ``vmap``). A model may override them to
draw all particles' noise in one call, which is faster (one random-number call instead
of ``N`` key derivations); the override must sample the same distribution.

Fast models on CPU: draw the population's noise with :func:`pinfer.random.normal`
(threefry that XLA fuses, both words of every hash used) and write small matrix
products with :func:`pinfer.linalg.matvec` / :func:`pinfer.linalg.dot` rather than
``@`` (a vmapped ``[2, 4]`` product becomes a batched dot that XLA's CPU backend runs
far slower than the unrolled sum). ``LinearGaussianSSM`` does both; for ``N = 1e5``
particles they took a bootstrap step from 6.2 to about 3 ms on a 2-core CPU.

A model is an :class:`equinox.Module`: its array fields are ordinary dynamic pytree
leaves, so a filter can be ``jit``-ted, ``vmap``-ped over batches of models and
differentiated with respect to model parameters. Integers that fix shapes belong in
``eqx.field(static=True)``.

Parameter-only work (matrix factorisations and inverses, a planned policy) belongs
in :meth:`AbstractStateSpaceModel.prepare`, which returns the same model with that
work done; drivers call it once before their loop (:func:`prepared`). XLA does not
move linear-algebra library calls such as a Cholesky factorisation out of a
``lax.scan``, and on a GPU each one is a few kernel launches at every step.

Optional methods enable better filters, simulation and stricter checks:

    sample_proposal, log_proposal, log_transition   guided q_t(x_t | x_{t-1}, y_t)
    log_lookahead                                   eta_t(x_{t-1}) ~ p(y_t | x_{t-1})
    sample_observation                              y_t ~ g_t(. | x_t): simulate()
    observation_shape                               the shape of one y_t

Before a filter runs, the observations are checked against ``observation_shape``
or, when the model declares none, against the shape ``sample_observation`` draws;
``log_observation`` must give one scalar per particle and observation.

(Pitt and Shephard, 1999, for the auxiliary particle filter; Doucet, Godsill and
Andrieu, 2000, for the locally optimal proposal.)
"""

import abc
from typing import Any

import equinox as eqx
import jax

from pinfer.types import Array, ArrayTree, Int, PRNGKey, Scalar

__all__ = ["AbstractStateSpaceModel", "implements", "prepared"]


class AbstractStateSpaceModel(eqx.Module):
    """A state-space model, written for one particle.

    Subclasses implement :meth:`sample_initial`, :meth:`sample_transition` and
    :meth:`log_observation`; the guided-proposal and look-ahead methods are optional
    (the default raises ``NotImplementedError``, and drivers check
    :func:`implements` before tracing). Override :attr:`observation_shape` (or
    implement :meth:`sample_observation`) so that drivers can validate observations
    exactly before anything runs.

    ``t`` is the int32 index of the observation being processed (``0..T-1``), so
    time-inhomogeneous models can index their parameters with it.

    Example:
        >>> class RandomWalk(AbstractStateSpaceModel):
        ...     scale: jax.Array
        ...     def sample_initial(self, key):
        ...         return jax.random.normal(key, (1,))
        ...     def sample_transition(self, key, x_prev, t):
        ...         return x_prev + self.scale * jax.random.normal(key, (1,))
        ...     def log_observation(self, x, y, t):
        ...         return jax.scipy.stats.norm.logpdf(y, x).sum()
        ...     @property
        ...     def observation_shape(self):
        ...         return (1,)
        >>> model = RandomWalk(scale=jnp.array(0.5))
    """

    @abc.abstractmethod
    def sample_initial(self, key: PRNGKey) -> ArrayTree:
        """Draw one initial state ``x_0 ~ mu`` (before the first observation)."""

    @abc.abstractmethod
    def sample_transition(
        self, key: PRNGKey, x_prev: ArrayTree, t: Int[Array, ""]
    ) -> ArrayTree:
        """Draw ``x_t ~ f_t(. | x_prev)``, the state observed by ``observations[t]``."""

    @abc.abstractmethod
    def log_observation(self, x: ArrayTree, y: ArrayTree, t: Int[Array, ""]) -> Scalar:
        """``log g_t(y | x)``, the log-likelihood of observation ``y`` at ``x``."""

    def sample_initial_batch(self, key: PRNGKey, num_particles: int) -> ArrayTree:
        """Draw ``num_particles`` initial states (leading axis ``N``).

        The default splits ``key`` into one key per particle and vmaps
        :meth:`sample_initial`; override to draw the population at once.
        """
        return jax.vmap(self.sample_initial)(jax.random.split(key, num_particles))

    def sample_transition_batch(
        self, key: PRNGKey, x_prev: ArrayTree, t: Int[Array, ""]
    ) -> ArrayTree:
        """Move a whole population ``x_prev`` (leading axis ``N``) one step.

        The default splits ``key`` into one key per particle and vmaps
        :meth:`sample_transition`; override to draw the population at once.
        """
        num_particles = jax.tree.leaves(x_prev)[0].shape[0]
        keys = jax.random.split(key, num_particles)
        return jax.vmap(lambda k, x: self.sample_transition(k, x, t))(keys, x_prev)

    def prepare(self) -> "AbstractStateSpaceModel":
        """The same model with its parameter-only quantities computed once.

        The default returns ``self``. Override it when the methods share work that
        depends only on the parameters (Cholesky factors, inverses, a planned
        policy): return a model that stores the results and whose methods use them.
        The prepared model must define the same law, and preparing it again must
        return it unchanged. :func:`~pinfer.smc.particle_filter` and
        :func:`~pinfer.smc.backward_simulation` call it once before their loop; when
        streaming with :func:`~pinfer.smc.pf_step`, prepare once before the first
        step. Prepare inside the traced function (as the drivers do), so that
        ``jax.grad`` and ``jax.vmap`` over the parameters see the computation.
        """
        return self

    @property
    def observation_shape(self) -> tuple[int, ...] | None:
        """Shape of one observation ``y_t`` (``None``: unknown, no check)."""
        return None

    def log_transition(
        self, x: ArrayTree, x_prev: ArrayTree, t: Int[Array, ""]
    ) -> Scalar:
        """``log f_t(x | x_prev)``; needed by guided proposals and smoothing."""
        raise NotImplementedError(_missing(self, "log_transition"))

    def sample_proposal(
        self, key: PRNGKey, x_prev: ArrayTree, y: ArrayTree, t: Int[Array, ""]
    ) -> ArrayTree:
        """Draw ``x_t ~ q_t(. | x_prev, y_t)`` from a guided proposal."""
        raise NotImplementedError(_missing(self, "sample_proposal"))

    def log_proposal(
        self, x: ArrayTree, x_prev: ArrayTree, y: ArrayTree, t: Int[Array, ""]
    ) -> Scalar:
        """``log q_t(x | x_prev, y_t)`` of the guided proposal."""
        raise NotImplementedError(_missing(self, "log_proposal"))

    def sample_observation(
        self, key: PRNGKey, x: ArrayTree, t: Int[Array, ""]
    ) -> ArrayTree:
        """Draw ``y_t ~ g_t(. | x)``; needed by :func:`~pinfer.smc.simulate`."""
        raise NotImplementedError(_missing(self, "sample_observation"))

    def log_lookahead(
        self, x_prev: ArrayTree, y_next: ArrayTree, t: Int[Array, ""]
    ) -> Scalar:
        """Auxiliary weight ``log eta_t(x_prev)``, ideally ``log p(y_t | x_prev)``.

        ``y_next`` is ``observations[t]``, the observation about to be processed.
        """
        raise NotImplementedError(_missing(self, "log_lookahead"))


def _missing(model: object, name: str) -> str:
    return (
        f"{type(model).__name__} does not implement `{name}`. Implement it on the "
        "model, or use a filter option that does not need it (e.g. the bootstrap "
        "proposal, auxiliary=False)."
    )


def prepared(model: Any) -> Any:
    """``model.prepare()`` when the model has one, else ``model`` (duck-typed models).

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian
        >>> model = random_linear_gaussian(jax.random.key(0), 2, 1)
        >>> prepared(model).factors is not None, model.factors is None
        (True, True)
    """
    prepare = getattr(model, "prepare", None)
    return prepare() if callable(prepare) else model


def implements(model: object, *names: str) -> bool:
    """Whether ``model`` provides every method in ``names`` (overridden, not the stub).

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian
        >>> model = random_linear_gaussian(jax.random.key(0), 2, 1)
        >>> implements(model, "sample_proposal", "log_proposal")
        True
    """
    for name in names:
        method = getattr(type(model), name, None)
        if not callable(method):
            return False
        if method is getattr(AbstractStateSpaceModel, name, None):
            return False
    return True
