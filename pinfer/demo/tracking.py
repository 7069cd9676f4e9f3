"""Demo: track a target in the plane with a particle filter, check it against Kalman.

The target moves with nearly constant velocity (state ``[px, py, vx, vy]``, white-noise
acceleration) and is seen through noisy positions. The model is linear-Gaussian, so
the Kalman filter gives the exact log-evidence and filtering means: pinfer's
bootstrap particle filter is compared with both, and the figure shows its filtering
mean and 95% band against the true path.
"""

import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.models.linear_gaussian import LinearGaussianSSM, kalman_filter, simulate
from pinfer.smc.particle_filter import particle_filter

__all__ = ["TrackingReport", "constant_velocity_model", "run_tracking"]


class TrackingReport(NamedTuple):
    """What the tracking demo measured."""

    log_evidence_pinfer: float
    log_evidence_kalman: float
    rmse_pinfer: float
    rmse_kalman: float
    seconds: float
    figure: Path


def constant_velocity_model(
    dt: float = 1.0, accel_sd: float = 0.1, obs_sd: float = 1.0
) -> LinearGaussianSSM:
    """2-D nearly-constant-velocity model: state ``[px, py, vx, vy]``, ``y = [px, py]``.

    Example:
        >>> model = constant_velocity_model()
        >>> model.A.shape, model.H.shape
        ((4, 4), (2, 4))
    """
    eye = jnp.eye(2)
    A = jnp.block([[eye, dt * eye], [jnp.zeros((2, 2)), eye]])
    q = jnp.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]) * accel_sd**2
    Q = jnp.kron(q, eye)
    H = jnp.concatenate([eye, jnp.zeros((2, 2))], axis=1)
    return LinearGaussianSSM(
        m0=jnp.array([0.0, 0.0, 1.0, 0.5]),
        P0=jnp.diag(jnp.array([1.0, 1.0, 0.1, 0.1])),
        A=A,
        Q=Q,
        H=H,
        R=obs_sd**2 * eye,
    )


def _weighted_moments(particles, log_weights):
    w = jnp.exp(log_weights)[..., None]
    mean = jnp.sum(w * particles, axis=-2)
    var = jnp.sum(w * (particles - mean[..., None, :]) ** 2, axis=-2)
    return mean, jnp.sqrt(var)


def _plot(path: Path, xs, ys, mean, sd, kalman_mean, kalman_sd) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(xs.shape[0])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    ax = axes[0]
    ax.plot(xs[:, 0], xs[:, 1], "k-", lw=2, label="true path")
    ax.plot(ys[:, 0], ys[:, 1], ".", color="0.6", ms=4, label="observations")
    ax.plot(mean[:, 0], mean[:, 1], "C0-", lw=1.5, label="pinfer filtering mean")
    ax.set(xlabel="x position", ylabel="y position", title="Path in the plane")
    ax.legend(loc="best", fontsize=8)
    # Errors against the truth: the trend would hide the band on the raw scale.
    for i, name in enumerate(["x", "y"]):
        ax = axes[i + 1]
        err = mean[:, i] - xs[:, i]
        ax.fill_between(
            t,
            err - 1.96 * sd[:, i],
            err + 1.96 * sd[:, i],
            color="C0",
            alpha=0.25,
            label="pinfer 95% band",
        )
        ax.plot(t, err, "C0-", lw=1.5, label="pinfer mean − truth")
        kerr = kalman_mean[:, i] - xs[:, i]
        ax.plot(t, kerr, "C3--", lw=1, label="Kalman mean − truth (exact)")
        for sign in (-1, 1):
            ax.plot(t, kerr + sign * 1.96 * kalman_sd[:, i], "C3:", lw=0.8)
        ax.plot(
            t, ys[:, i] - xs[:, i], ".", color="0.6", ms=3, label="observation − truth"
        )
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set(
            xlabel="time step",
            ylabel=f"{name} error",
            title=f"{name}: filtering error and 95% band (Kalman band dotted)",
        )
        ax.legend(loc="best", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_tracking(
    out_dir: Path, seed: int, num_particles: int, num_steps: int, progress: bool
) -> TrackingReport:
    """Simulate, filter with pinfer and with Kalman, write ``tracking_filter.png``.

    Example:
        >>> run_tracking(Path("out"), 0, 2000, 100, False)  # doctest: +SKIP
    """
    model = constant_velocity_model()
    key_sim, key_pf = jax.random.split(jax.random.key(seed))
    xs, ys = simulate(key_sim, model, num_steps)
    exact = kalman_filter(model, ys)

    run = jax.jit(
        particle_filter,
        static_argnames=("num_particles", "keep_history", "progress"),
    )
    start = time.perf_counter()
    result = run(
        key_pf,
        model,
        ys,
        num_particles=num_particles,
        keep_history=True,
        progress=progress,
    )
    jax.block_until_ready(result)
    seconds = time.perf_counter() - start

    mean, sd = _weighted_moments(result.particles, result.log_weights)
    xs, ys, mean, sd = (np.asarray(a) for a in (xs, ys, mean, sd))
    kalman_mean = np.asarray(exact.filtered_means)
    kalman_sd = np.sqrt(np.diagonal(np.asarray(exact.filtered_covs), axis1=1, axis2=2))
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / "tracking_filter.png"
    _plot(figure, xs, ys, mean, sd, kalman_mean, kalman_sd)
    rmse = lambda m: float(np.sqrt(np.mean((m[:, :2] - xs[:, :2]) ** 2)))  # noqa: E731
    return TrackingReport(
        log_evidence_pinfer=float(result.log_evidence),
        log_evidence_kalman=float(exact.log_likelihood),
        rmse_pinfer=rmse(mean),
        rmse_kalman=rmse(kalman_mean),
        seconds=seconds,
        figure=figure,
    )
