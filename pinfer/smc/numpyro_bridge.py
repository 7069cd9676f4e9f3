"""Tempered SMC on a numpyro model: its log-joint split into prior and likelihood.

Tempered SMC needs the prior and the likelihood apart. For a numpyro model with
continuous latent sites ``x_s`` and observed sites ``y_o`` the particles live in the
unconstrained space of HMC (``x = T(u)``, ``T = biject_to(support)``) and::

    log_prior(u)      = sum_s log p(x_s | parents) + sum_s log |det dT_s/du_s|
    log_likelihood(u) = sum_o log p(y_o | x)     (observed sites and numpyro.factor)
    prior draws:  x ~ model (seeded, latent sites sampled),  u = T^{-1}(x)

so ``exp(log_prior)`` is a normalised density on ``u`` (the Jacobian belongs to the
prior) and tempered SMC's evidence is the model's marginal likelihood ``p(y)``. Site
scales (``numpyro.plate(subsample_size=...)``, ``numpyro.handlers.scale``) and masks
apply as in numpyro's own ``log_density``. Every ``numpyro.factor`` counts as
likelihood. Results come back in the constrained space, with deterministic sites.
"""

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from numpyro.distributions import biject_to
from numpyro.distributions.util import sum_rightmost
from numpyro.handlers import seed, substitute, trace
from numpyro.infer.util import constrain_fn

from pinfer.smc.tempered import TemperedSMCResult, tempered_smc
from pinfer.types import ArrayTree, PRNGKey, Scalar
from pinfer.validation import check_callable, check_key, check_static_int, check_type

__all__ = ["NumpyroTarget", "numpyro_target", "tempered_smc_numpyro"]


class NumpyroTarget(NamedTuple):
    """A numpyro model as tempered SMC sees it (particles: dicts of unconstrained
    values keyed by latent site name).

    Attributes:
        log_prior_fn: ``u -> log p(T(u)) + log |det J_T(u)|`` for one particle.
        log_likelihood_fn: ``u -> log p(y | T(u))`` for one particle.
        sample_prior_fn: ``(key, num_particles) -> u`` with leading axis ``N``.
        constrain_fn: ``u [N] -> x [N]``: latent and deterministic sites,
            constrained.
        latent_sites: names of the latent sample sites, in model order.
    """

    log_prior_fn: Callable[[dict], Scalar]
    log_likelihood_fn: Callable[[dict], Scalar]
    sample_prior_fn: Callable[[PRNGKey, int], dict]
    constrain_fn: Callable[[dict], dict]
    latent_sites: tuple[str, ...]


def _site_log_prob(site: dict) -> jax.Array:
    if site["intermediates"]:
        log_prob = site["fn"].log_prob(site["value"], site["intermediates"])
    else:
        log_prob = site["fn"].log_prob(site["value"])
    if site["scale"] is not None:
        log_prob = site["scale"] * log_prob
    return jnp.sum(log_prob)


def numpyro_target(
    model: Callable, model_args: tuple = (), model_kwargs: dict | None = None
) -> NumpyroTarget:
    """Split a numpyro model into unconstrained log-prior and log-likelihood.

    The model is traced once (seeded) to find its sites: latent sample sites must
    be continuous; observed sample sites and ``numpyro.factor`` sites form the
    likelihood.

    Args:
        model: a numpyro model, conditioned on its data (``obs=`` or
            ``numpyro.handlers.condition``).
        model_args: positional arguments of the model.
        model_kwargs: keyword arguments of the model.

    Returns:
        :class:`NumpyroTarget`.

    Raises:
        TypeError: when the model is not callable, ``model_args`` is not a tuple or
            ``model_kwargs`` not a dict.
        ValueError: when the model has no latent site or a discrete one.

    Example:
        >>> def model(y):
        ...     mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        ...     numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
        >>> target = numpyro_target(model, (jnp.array([0.5, 1.0]),))
        >>> u = target.sample_prior_fn(jax.random.key(0), 100)
        >>> u["mu"].shape
        (100,)
    """
    where = "numpyro_target"
    check_callable(model, "model", where=where)
    check_type(model_args, "model_args", (tuple, list), where=where)
    if model_kwargs is not None:
        check_type(model_kwargs, "model_kwargs", dict, where=where)
    model_args = tuple(model_args)
    kwargs = {} if model_kwargs is None else dict(model_kwargs)
    prototype = trace(seed(model, jax.random.key(0))).get_trace(*model_args, **kwargs)
    sample_sites = [s for s in prototype.values() if s["type"] == "sample"]
    latent = tuple(s["name"] for s in sample_sites if not s["is_observed"])
    observed = frozenset(s["name"] for s in sample_sites if s["is_observed"])
    if not latent:
        raise ValueError(
            f"{where}: the numpyro `model` has no latent sample site to infer."
        )
    for site in sample_sites:
        if site["name"] in latent and site["fn"].support.is_discrete:
            raise ValueError(
                f"{where}: latent site {site['name']!r} is discrete ({site['fn']}); "
                "tempered SMC here moves particles with gradient-free or HMC kernels "
                "on continuous spaces. Marginalise it out or make it observed."
            )

    def log_terms(u: dict) -> tuple[jax.Array, jax.Array]:
        log_jacobians = []

        def unconstrain(site):
            if site["type"] != "sample" or site["name"] not in u:
                return None
            transform = biject_to(site["fn"].support)
            value = transform(u[site["name"]])
            log_det = transform.log_abs_det_jacobian(u[site["name"]], value)
            event_dims = (
                jnp.ndim(log_det) - jnp.ndim(value) + len(site["fn"].event_shape)
            )
            log_det = jnp.sum(sum_rightmost(log_det, event_dims))
            if site["scale"] is not None:
                log_det = site["scale"] * log_det
            log_jacobians.append(jnp.sum(log_det))
            return value

        model_trace = trace(substitute(model, substitute_fn=unconstrain)).get_trace(
            *model_args, **kwargs
        )
        log_prior = sum(log_jacobians, jnp.zeros(()))
        log_likelihood = jnp.zeros(())
        for site in model_trace.values():
            if site["type"] != "sample":
                continue
            if site["name"] in observed:
                log_likelihood = log_likelihood + _site_log_prob(site)
            else:
                log_prior = log_prior + _site_log_prob(site)
        return log_prior, log_likelihood

    def sample_prior_fn(key: PRNGKey, num_particles: int) -> dict:
        def one(k):
            draw = trace(seed(model, k)).get_trace(*model_args, **kwargs)
            return {
                name: biject_to(draw[name]["fn"].support).inv(draw[name]["value"])
                for name in latent
            }

        return jax.vmap(one)(jax.random.split(key, num_particles))

    def constrain(particles: dict) -> dict:
        def one(u):
            return constrain_fn(model, model_args, kwargs, u, return_deterministic=True)

        return jax.vmap(one)(particles)

    return NumpyroTarget(
        lambda u: log_terms(u)[0],
        lambda u: log_terms(u)[1],
        sample_prior_fn,
        constrain,
        latent,
    )


def tempered_smc_numpyro(
    key: PRNGKey,
    model: Callable,
    model_args: tuple,
    num_particles: int,
    *,
    model_kwargs: dict | None = None,
    **smc_options: Any,
) -> TemperedSMCResult:
    """Tempered SMC on a numpyro model, from prior draws to the posterior.

    Draws ``num_particles`` particles from the model's prior, runs
    :func:`~pinfer.smc.tempered.tempered_smc` in the unconstrained space with the
    prior/likelihood split of :func:`numpyro_target`, and maps the final particles
    back. ``log_evidence`` estimates ``log p(y)`` of the model.

    Args:
        key: PRNG key.
        model: a numpyro model conditioned on its data.
        model_args: tuple of the model's positional arguments (``()`` for none).
        num_particles: number of particles ``N >= 2`` (static), by position or by
            keyword, as in :func:`~pinfer.smc.particle_filter`.
        model_kwargs: keyword arguments of the model.
        **smc_options: passed on to :func:`~pinfer.smc.tempered.tempered_smc`
            (``mcmc_kernel``, ``num_mcmc_steps``, ``target_ess``, ``temperatures``...).

    Returns:
        :class:`~pinfer.smc.tempered.TemperedSMCResult` whose ``particles`` is a dict
        of **constrained** values (latent and deterministic sites), each ``[N, ...]``.

    Raises:
        TypeError / ValueError: for a bad key, a model that is not callable,
            ``model_args`` that is not a tuple, or a ``num_particles`` that is not
            an int ``>= 2``; and whatever :func:`numpyro_target` and
            :func:`~pinfer.smc.tempered.tempered_smc` raise.

    Example:
        >>> def model(y):
        ...     scale = numpyro.sample("scale", dist.HalfNormal(2.0))
        ...     numpyro.sample("y", dist.Normal(0.0, scale), obs=y)
        >>> y = jnp.array([0.3, -1.2, 2.0])
        >>> result = tempered_smc_numpyro(
        ...     jax.random.key(0), model, (y,), 50, num_mcmc_steps=2
        ... )
        >>> bool(jnp.all(result.particles["scale"] > 0))
        True
    """
    where = "tempered_smc_numpyro"
    check_key(key, where=where)
    check_callable(model, "model", where=where)
    if not isinstance(model_args, (tuple, list)):
        names = _parameter_names(model)
        raise TypeError(
            f"{where}: `model_args` must be a tuple of the model's positional "
            f"arguments, got {type(model_args).__name__}. Write "
            f"tempered_smc_numpyro(key, model, ({names}), num_particles)."
        )
    num_particles = check_static_int(num_particles, "num_particles", 2, where=where)
    if model_kwargs is not None:
        check_type(model_kwargs, "model_kwargs", dict, where=where)
    target = numpyro_target(model, tuple(model_args), model_kwargs)
    key_prior, key_smc = jax.random.split(key)
    particles: ArrayTree = target.sample_prior_fn(key_prior, num_particles)
    result = tempered_smc(
        key_smc,
        target.log_prior_fn,
        target.log_likelihood_fn,
        particles,
        **smc_options,
    )
    return result._replace(particles=target.constrain_fn(result.particles))


def _parameter_names(model: Callable) -> str:
    """``"y,"`` or ``"x, y"``: the model's positional parameters, for a message."""
    try:
        params = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return "...,"
    names = [
        p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return names[0] + "," if len(names) == 1 else ", ".join(names) or ""
