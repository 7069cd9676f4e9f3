"""Linear-Gaussian model: Kalman filter and RTS smoother against dense Gaussian algebra.

For tiny T the states ``s_0..s_T`` (``s_0`` the prior state) and observations
``y_t = H s_{t+1} + v_t`` are one joint Gaussian; its marginal log-density of ``y`` and
its conditional means are the oracle (float64, scipy).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxpr_helpers import primitives
from scipy import stats
from tolerances import rounding_atol, rounding_rtol

from pinfer.models.linear_gaussian import (
    LinearGaussianSSM,
    kalman_filter,
    random_linear_gaussian,
    rts_smoother,
    simulate,
)

DX, DY, T = 3, 2, 5


def dense_joint(model, num_steps, xp=np):
    """Mean and covariance of ``(s_1..s_T, y_0..y_{T-1})`` (numpy or jax.numpy)."""
    A, Q, H, R, m0, P0 = (model.A, model.Q, model.H, model.R, model.m0, model.P0)
    if xp is np:
        A, Q, H, R, m0, P0 = (np.asarray(a, np.float64) for a in (A, Q, H, R, m0, P0))
    dx = A.shape[0]
    powers = [xp.eye(dx)]
    for _ in range(num_steps):
        powers.append(A @ powers[-1])
    steps = range(1, num_steps + 1)
    s_mean = xp.concatenate([powers[k] @ m0 for k in steps])

    def s_block(k, m):
        block = powers[k] @ P0 @ powers[m].T
        for j in range(1, min(k, m) + 1):
            block = block + powers[k - j] @ Q @ powers[m - j].T
        return block

    s_cov = xp.block([[s_block(k, m) for m in steps] for k in steps])
    big_h = xp.kron(xp.eye(num_steps), H)
    mean = xp.concatenate([s_mean, big_h @ s_mean])
    cov_sy = s_cov @ big_h.T
    cov_yy = big_h @ s_cov @ big_h.T + xp.kron(xp.eye(num_steps), R)
    cov = xp.block([[s_cov, cov_sy], [cov_sy.T, cov_yy]])
    return mean, cov, num_steps * dx, H.shape[0]


def dense_condition(model, ys, observed):
    """Oracle log p(y_observed) and E[s_{t+1} | y_observed rows] for a row subset."""
    num_steps = ys.shape[0]
    mean, cov, n_s, dy = dense_joint(model, num_steps)
    rows = np.concatenate(
        [n_s + t * dy + np.arange(dy) for t in range(num_steps) if observed[t]]
    )
    y = np.asarray(ys, np.float64).reshape(-1)[rows - n_s]
    log_lik = stats.multivariate_normal(mean[rows], cov[np.ix_(rows, rows)]).logpdf(y)
    gain = cov[:n_s][:, rows] @ np.linalg.inv(cov[np.ix_(rows, rows)])
    post_mean = mean[:n_s] + gain @ (y - mean[rows])
    post_cov = cov[:n_s, :n_s] - gain @ cov[rows][:, :n_s]
    return log_lik, post_mean, post_cov


# Rounding bounds: one Kalman step is a few products of d-term sums and a
# d-dimensional Cholesky factorisation; T steps compound them, scaled by the
# condition number of the joint covariance (the dense oracle solves with it too).
KALMAN_OPS = T * 4 * (DX + DY)


def kalman_rtol(model, num_ops=KALMAN_OPS, dtype=np.float64):
    _, cov, _, _ = dense_joint(model, T)
    return rounding_rtol(num_ops, float(np.linalg.cond(cov)), dtype)


@pytest.fixture(scope="module")
def problem64():
    with jax.enable_x64(True):
        model = random_linear_gaussian(jax.random.key(0), DX, DY)
        _, ys = simulate(jax.random.key(1), model, T)
    return model, ys


@pytest.mark.parametrize("missing", [(), (0, 3)])
def test_kalman_filter_matches_dense_gaussian(problem64, missing):
    model, ys = problem64
    observed = np.array([t not in missing for t in range(T)])
    with jax.enable_x64(True):
        result = jax.jit(kalman_filter)(model, ys, jnp.asarray(observed))
    assert result.log_likelihood.dtype == jnp.float64
    log_lik, _, _ = dense_condition(model, ys, observed)
    rtol = kalman_rtol(model)
    np.testing.assert_allclose(result.log_likelihood, log_lik, rtol=rtol)
    for t in range(T):
        # Filtering at t conditions on the observed rows up to t only.
        upto = observed & (np.arange(T) <= t)
        if not upto.any():
            continue
        _, post_mean, post_cov = dense_condition(model, ys, upto)
        block = slice(t * DX, (t + 1) * DX)
        mean_atol = rtol * np.abs(post_mean[block]).max()
        np.testing.assert_allclose(
            result.filtered_means[t], post_mean[block], atol=mean_atol
        )
        cov_atol = rtol * np.abs(post_cov[block, block]).max()
        np.testing.assert_allclose(
            result.filtered_covs[t], post_cov[block, block], atol=cov_atol
        )


def test_rts_smoother_matches_dense_gaussian(problem64):
    model, ys = problem64
    observed = np.ones(T, bool)
    with jax.enable_x64(True):
        means, covs = rts_smoother(model, ys)
    _, post_mean, post_cov = dense_condition(model, ys, observed)
    # The backward pass doubles the forward pass's operations.
    rtol = kalman_rtol(model, 2 * KALMAN_OPS)
    atol = rtol * np.abs(post_mean).max()
    np.testing.assert_allclose(means.reshape(-1), post_mean, atol=atol)
    for t in range(T):
        block = slice(t * DX, (t + 1) * DX)
        atol = rtol * np.abs(post_cov[block, block]).max()
        np.testing.assert_allclose(covs[t], post_cov[block, block], atol=atol)


def test_kalman_gradient_matches_dense_gradient(problem64):
    model, ys = problem64

    def dense_log_lik(A):
        mean, cov, n_s, _ = dense_joint(eqx.tree_at(lambda m: m.A, model, A), T, jnp)
        return jax.scipy.stats.multivariate_normal.logpdf(
            ys.reshape(-1), mean[n_s:], cov[n_s:, n_s:]
        )

    def kalman_log_lik(A):
        return kalman_filter(eqx.tree_at(lambda m: m.A, model, A), ys).log_likelihood

    with jax.enable_x64(True):
        rtol = kalman_rtol(model)
        np.testing.assert_allclose(
            dense_log_lik(model.A), kalman_log_lik(model.A), rtol=rtol
        )
        # Reverse mode runs the forward pass and a pass back (about 3x the work).
        grad = jax.grad(dense_log_lik)(model.A)
        atol = kalman_rtol(model, 3 * KALMAN_OPS) * float(np.abs(grad).max())
        np.testing.assert_allclose(jax.grad(kalman_log_lik)(model.A), grad, atol=atol)


def test_float32_kalman_close_to_float64(problem64):
    model64, ys64 = problem64
    model32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), model64)
    result = kalman_filter(model32, jnp.asarray(ys64, jnp.float32))
    assert result.log_likelihood.dtype == jnp.float32
    with jax.enable_x64(True):
        exact = kalman_filter(model64, ys64)
    # The float32 run rounds its inputs too (relative eps): the same bound, float32.
    rtol = kalman_rtol(model64, KALMAN_OPS + 1, np.float32)
    np.testing.assert_allclose(result.log_likelihood, exact.log_likelihood, rtol=rtol)
    atol = rtol * float(np.abs(exact.filtered_means).max())
    np.testing.assert_allclose(result.filtered_means, exact.filtered_means, atol=atol)


def test_optimal_proposal_and_lookahead_identity(problem64):
    # p(x | x_prev) p(y | x) = p(y | x_prev) q(x | x_prev, y) for every x.
    model, _ = problem64
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(3), 4)
        x_prev = jax.random.normal(keys[0], (DX,))
        y = jax.random.normal(keys[1], (DY,))
        xs = jax.random.normal(keys[2], (7, DX)) * 2.0
        terms = jax.vmap(
            lambda x: jnp.stack(
                [
                    model.log_transition(x, x_prev, 0),
                    model.log_observation(x, y, 0),
                    -model.log_proposal(x, x_prev, y, 0),
                ]
            )
        )(xs)
        lookahead = model.log_lookahead(x_prev, y, 0)
        # Four Gaussian log-densities (d^2 + d operations each) that cancel: the
        # bound is relative to the magnitude of the terms, not of the result.
        scale = np.abs(terms).sum(1) + abs(float(lookahead))
        atol = rounding_atol(4 * (DX * DX + DX), 1.0, np.float64) * scale
        assert np.all(np.abs(terms.sum(1) - lookahead) <= atol)


def test_samplers_match_their_densities(problem64):
    # Sample moments of the transition and the optimal proposal vs their Gaussians
    # (4 standard errors; the covariance is checked through the sample variance of
    # the whitened draws, whose sd is sqrt(2 / n)).
    model, _ = problem64
    n = 4000
    with jax.enable_x64(True):
        x_prev, y = jnp.ones(DX), jnp.ones(DY)
        keys = jax.random.split(jax.random.key(5), n)
        trans = jax.vmap(lambda k: model.sample_transition(k, x_prev, 0))(keys)
        prop = jax.vmap(lambda k: model.sample_proposal(k, x_prev, y, 0))(keys)
        mean_q, cov_q = np.asarray(model.A @ x_prev), np.asarray(model.Q)
        s = model.H @ model.Q @ model.H.T + model.R
        gain = model.Q @ model.H.T @ jnp.linalg.inv(s)
        mean_p = np.asarray(model.A @ x_prev + gain @ (y - model.H @ model.A @ x_prev))
        cov_p = np.asarray(model.Q - gain @ model.H @ model.Q)
    for draws, mean, cov in [
        (trans, mean_q, cov_q),
        (prop, mean_p, cov_p),
    ]:
        white = (np.asarray(draws) - np.asarray(mean)) @ np.linalg.inv(
            np.linalg.cholesky(cov)
        ).T
        assert np.all(np.abs(white.mean(0)) < 4 / np.sqrt(n))
        assert np.all(np.abs(white.var(0) - 1) < 4 * np.sqrt(2 / n))


def test_random_model_is_stable_and_valid():
    model = random_linear_gaussian(jax.random.key(0), 4, 2, spectral_radius=0.9)
    # Householder QR's Q is orthogonal to within about d^2 gamma_d (Higham, 2002,
    # 19.3), which bounds how far its eigenvalues leave the unit circle.
    np.testing.assert_allclose(
        np.abs(np.linalg.eigvals(np.asarray(model.A))), 0.9, rtol=rounding_rtol(4**3)
    )
    for cov in (model.Q, model.R, model.P0):
        # B diag(e) B' in two orders: 2 gamma_d of sum_k |b_ik| e_k |b_jk| <= max e.
        largest = float(np.abs(np.asarray(cov)).max())
        atol = rounding_atol(cov.shape[0], largest * cov.shape[0])
        np.testing.assert_allclose(cov, cov.T, atol=atol)
        assert np.all(np.linalg.eigvalsh(np.asarray(cov)) > 0)
    assert model.observation_shape == (2,)
    xs, ys = simulate(jax.random.key(1), model, 7)
    assert xs.shape == (7, 4) and ys.shape == (7, 2)


def test_shape_errors_are_clear():
    good = dict(
        m0=jnp.zeros(3),
        P0=jnp.eye(3),
        A=jnp.eye(3),
        Q=jnp.eye(3),
        H=jnp.ones((2, 3)),
        R=jnp.eye(2),
    )
    LinearGaussianSSM(**good)
    with pytest.raises(ValueError, match=r"`R` must have shape \(2, 2\).*got \(3, 3\)"):
        LinearGaussianSSM(**(good | {"R": jnp.eye(3)}))
    with pytest.raises(ValueError, match=r"`A` must have shape \(3, 3\)"):
        LinearGaussianSSM(**(good | {"A": jnp.eye(2)}))
    with pytest.raises(ValueError, match="`m0` must be a vector"):
        LinearGaussianSSM(**(good | {"m0": jnp.zeros((3, 1))}))
    model = LinearGaussianSSM(**good)
    with pytest.raises(ValueError, match=r"`observations` must have shape \[\*, 2\]"):
        kalman_filter(model, jnp.zeros((4, 3)))


def test_prepare_caches_factors_without_changing_the_model(problem64):
    # prepare() stores Cholesky factors, inverses and the optimal-proposal gain; every
    # method then returns the same numbers as the unprepared model, in value and in
    # gradient with respect to the parameters, and preparing again is a no-op.
    model, ys = problem64
    with jax.enable_x64(True):
        ready = model.prepare()
        assert model.factors is None and ready.factors is not None
        assert ready.prepare() is ready
        keys = jax.random.split(jax.random.key(7), 3)
        x_prev = jax.random.normal(keys[0], (DX,))
        x = jax.random.normal(keys[1], (DX,))
        y = ys[0]
        calls = {
            "sample_initial": lambda m: m.sample_initial(keys[2]),
            "sample_transition": lambda m: m.sample_transition(keys[2], x_prev, 0),
            "sample_initial_batch": lambda m: m.sample_initial_batch(keys[2], 5),
            "sample_transition_batch": lambda m: m.sample_transition_batch(
                keys[2], jnp.stack([x_prev, x]), 0
            ),
            "log_transition": lambda m: m.log_transition(x, x_prev, 0),
            "log_observation": lambda m: m.log_observation(x, y, 0),
            "sample_proposal": lambda m: m.sample_proposal(keys[2], x_prev, y, 0),
            "log_proposal": lambda m: m.log_proposal(x, x_prev, y, 0),
            "log_lookahead": lambda m: m.log_lookahead(x_prev, y, 0),
        }
        for name, call in calls.items():
            # The same factors, computed before instead of inside: the same numbers.
            np.testing.assert_array_equal(call(ready), call(model), err_msg=name)

        def total(params, prepare):
            m = eqx.tree_at(lambda m: (m.Q, m.R), model, params)
            m = m.prepare() if prepare else m
            return (
                m.log_observation(x, y, 0)
                + m.log_transition(x, x_prev, 0)
                + m.log_proposal(x, x_prev, y, 0)
                + m.log_lookahead(x_prev, y, 0)
            )

        params = (model.Q, model.R)
        for got, want in zip(
            jax.grad(total)(params, True), jax.grad(total)(params, False), strict=True
        ):
            # Four densities through d x d factorisations and inverses (about d^3
            # operations each), differentiated: float64 rounding of their size.
            atol = rounding_atol(4 * 3 * DX**3, float(np.abs(want).max()), np.float64)
            np.testing.assert_allclose(got, want, atol=atol)
    with pytest.raises(TypeError, match="`factors` must be None"):
        LinearGaussianSSM(
            model.m0, model.P0, model.A, model.Q, model.H, model.R, factors=1.0
        )


@pytest.mark.parametrize(
    "options",
    [{}, {"proposal": "guided"}, {"auxiliary": True}],
    ids=["bootstrap", "guided", "auxiliary"],
)
def test_filter_loop_holds_no_factorisation(options):
    # The particle filter prepares the model before its scan: the Cholesky factors
    # and triangular solves run once, not at every step (on a GPU each is a few
    # library kernels per step; XLA does not hoist them out of the loop).
    from pinfer.smc import particle_filter

    model = random_linear_gaussian(jax.random.key(0), 4, 2)
    _, ys = simulate(jax.random.key(1), model, 6)
    jaxpr = jax.make_jaxpr(
        lambda key: particle_filter(key, model, ys, 32, **options).log_evidence
    )(jax.random.key(2))
    found = primitives(jaxpr.jaxpr)
    linalg = {"cholesky", "triangular_solve"}
    assert {name for name, in_loop in found if in_loop} & linalg == set()
    assert {name for name, in_loop in found if not in_loop} >= linalg
