"""Boundary checks of the SMC entry points: thresholds, observation shapes, keys,
particle counts and the signatures users call.

Each case was a silent wrong answer or a JAX-internal error before these checks:
``ess_threshold=-0.2`` never resampled (the README problem's log-evidence came out 88
nats below the Kalman value), and ``[T, 1]`` observations broadcast against a model
of two-dimensional observations that declares no ``observation_shape``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pf_helpers import SumRandomWalk, VectorRandomWalk, small_hmm, tiny_model

from pinfer.smc import (
    backward_simulation,
    multinomial,
    particle_filter,
    pf_init,
    pf_step,
    simulate,
    smc_step,
    systematic,
    tempered_smc,
    tempered_smc_numpyro,
)
from pinfer.smc.base import init as smc_init

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def small():
    """A 2-d state observed in 1-d for 6 steps (no Kalman oracle needed here)."""
    model = tiny_model()
    return model, jnp.linspace(-1.0, 1.0, 6)[:, None]


@pytest.mark.parametrize("threshold", [1.5, -0.2, 500])
def test_ess_threshold_outside_the_unit_interval_raises(small, threshold):
    model, ys = small
    pattern = rf"`ess_threshold` must be .* in \[0, 1\], got {threshold}"
    with pytest.raises(ValueError, match="particle_filter: " + pattern):
        particle_filter(KEY, model, ys, 16, ess_threshold=threshold)
    state = pf_init(KEY, model, 16)
    with pytest.raises(ValueError, match="pf_step: " + pattern):
        pf_step(KEY, state, model, ys[0], ess_threshold=threshold)
    smc_state = smc_init(jnp.zeros((8, 1)))
    with pytest.raises(ValueError, match="smc_step: " + pattern):
        smc_step(
            KEY,
            smc_state,
            lambda k, x: x,
            lambda x, p: jnp.zeros(8),
            systematic,
            threshold,
        )


def test_traced_ess_threshold_outside_the_unit_interval_is_an_error(small):
    model, ys = small
    run = jax.jit(lambda th: particle_filter(KEY, model, ys, 16, ess_threshold=th))
    assert np.isfinite(float(run(0.5).log_evidence))
    with pytest.raises(Exception, match="ess_threshold"):
        jax.block_until_ready(run(-0.2))


def test_the_bounds_of_the_unit_interval_are_valid(small):
    model, ys = small
    never = particle_filter(KEY, model, ys, 16, ess_threshold=0.0)
    always = particle_filter(KEY, model, ys, 16, ess_threshold=1)
    assert not bool(never.resampled.any()) and bool(always.resampled.all())


@pytest.mark.parametrize("target_ess", [1.5, -0.2, 500, 0.0, 1.0])
def test_target_ess_uses_the_same_rule(target_ess):
    pattern = rf"tempered_smc: `target_ess` must be .* in \(0, 1\), got {target_ess}"
    with pytest.raises(ValueError, match=pattern):
        tempered_smc(
            KEY,
            lambda x: -0.5 * x @ x,
            lambda x: -0.5 * x @ x,
            jax.random.normal(KEY, (8, 2)),
            target_ess=target_ess,
        )


def test_observations_broadcast_against_a_model_without_observation_shape():
    model = SumRandomWalk()
    good = jnp.zeros((5, 2))
    assert np.isfinite(float(particle_filter(KEY, model, good, 16).log_evidence))
    with pytest.raises(ValueError, match=r"particle_filter: .*\(1,\).*\(2,\)"):
        particle_filter(KEY, model, jnp.zeros((5, 1)), 16)
    state = pf_init(KEY, model, 16)
    with pytest.raises(ValueError, match=r"pf_step: .*\(1,\).*\(2,\)"):
        pf_step(KEY, state, model, jnp.zeros(1))
    # A scalar per step ([T]) meets the 2-d state the same way.
    with pytest.raises(ValueError, match=r"particle_filter: .*\(\).*\(2,\)"):
        particle_filter(KEY, model, jnp.zeros(5), 16)
    with pytest.raises(ValueError, match=r"pf_step: .*\(\).*\(2,\)"):
        pf_step(KEY, state, model, jnp.zeros(()))


@pytest.mark.parametrize("num_columns", [1, 2])
def test_a_non_scalar_log_likelihood_names_its_shape(num_columns):
    pattern = r"log_observation must return a scalar.*got \(2,\)"
    with pytest.raises(ValueError, match=pattern):
        particle_filter(KEY, VectorRandomWalk(), jnp.zeros((5, num_columns)), 16)


def test_declared_sample_observation_fixes_the_expected_shape():
    model = small_hmm()  # scalar observations, from sample_observation's shape
    with pytest.raises(ValueError, match=r"\(2,\)"):
        particle_filter(KEY, model, jnp.zeros((5, 2)), 16)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, ys: particle_filter(0, m, ys, 16),
        lambda m, ys: pf_init(0, m, 16),
        lambda m, ys: pf_step(0, pf_init(KEY, m, 16), m, ys[0]),
        lambda m, ys: simulate(0, m, 5),
        lambda m, ys: backward_simulation(
            0, m, particle_filter(KEY, m, ys, 16, keep_history=True), 2
        ),
        lambda m, ys: systematic(0, jnp.zeros(4), 4),
        lambda m, ys: multinomial(None, jnp.zeros(4), 4),
        lambda m, ys: tempered_smc(
            0,
            lambda x: -x @ x,
            lambda x: -x @ x,
            jnp.ones((4, 2)) * jnp.arange(4.0)[:, None],
        ),
    ],
    ids=[
        "particle_filter",
        "pf_init",
        "pf_step",
        "simulate",
        "backward_simulation",
        "systematic",
        "multinomial",
        "tempered_smc",
    ],
)
def test_every_key_is_checked_the_same_way(small, call):
    model, ys = small
    with pytest.raises(
        TypeError, match=r"`key` must be a JAX PRNG key, got (0|None)\."
    ):
        call(model, ys)


@pytest.mark.parametrize("num_particles", [0, -5, 2.5, True, "100"])
def test_num_particles_is_checked_the_same_way(small, num_particles):
    model, ys = small
    for call in (
        lambda: particle_filter(KEY, model, ys, num_particles),
        lambda: pf_init(KEY, model, num_particles),
    ):
        with pytest.raises((TypeError, ValueError), match=r"`num_particles` must be"):
            call()


def test_num_particles_is_positional_or_keyword_everywhere(small):
    import inspect

    for fn in (particle_filter, pf_init, tempered_smc_numpyro):
        parameter = inspect.signature(fn).parameters["num_particles"]
        assert parameter.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD, fn
    model, ys = small
    by_position = particle_filter(KEY, model, ys, 32)
    by_keyword = particle_filter(
        KEY, model, ys, num_particles=32, resample_fn=systematic, ess_threshold=0.5
    )
    np.testing.assert_array_equal(by_position.log_evidence, by_keyword.log_evidence)


def _normal_model(y):
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    with numpyro.plate("n", y.shape[0]):
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)


def test_tempered_smc_numpyro_takes_num_particles_by_position():
    ys = jnp.array([0.3, -0.1, 0.8])
    one_step = {"num_mcmc_steps": 1, "temperatures": jnp.array([1.0])}
    result = tempered_smc_numpyro(KEY, _normal_model, (ys,), 16, **one_step)
    assert result.particles["mu"].shape == (16,)
    with pytest.raises(TypeError, match=r"`model_args` must be a tuple.*\(y,\)"):
        tempered_smc_numpyro(KEY, _normal_model, ys, 64)
    with pytest.raises(ValueError, match="`num_particles` must be an int >= 2, got 1"):
        tempered_smc_numpyro(KEY, _normal_model, (ys,), 1)
