"""The exact conjugate posterior shared by the SBC and TARP tests.

Model: theta ~ N(0, I_2), y ~ N(theta, 0.5^2 I_2), so the posterior is
N(0.8 y, 0.2 I_2). Posterior "draws" are built from its exact mean and standard-normal
noise, optionally too narrow (``sd_factor < 1``) or shifted (``bias``).
"""

import jax
import numpy as np

NOISE_SD = 0.5
POST_SHRINK = 1.0 / (1.0 + NOISE_SD**2)  # posterior mean = 0.8 y
POST_SD = float(np.sqrt(NOISE_SD**2 / (1.0 + NOISE_SD**2)))


def conjugate_draws(seed, num_simulations, num_posterior_samples):
    """theta [S, 2], posterior means [S, 2] and standard-normal noise [S, L, 2]."""
    key_theta, key_y, key_post = jax.random.split(jax.random.key(seed), 3)
    theta = jax.random.normal(key_theta, (num_simulations, 2))
    y = theta + NOISE_SD * jax.random.normal(key_y, theta.shape)
    noise = jax.random.normal(key_post, (num_simulations, num_posterior_samples, 2))
    return theta, POST_SHRINK * y, noise


def posterior_draws(mean, noise, sd_factor=1.0, bias=0.0):
    """``[S, L, 2]`` draws: exact when ``sd_factor = 1`` and ``bias = 0``."""
    return mean[:, None, :] + bias + sd_factor * POST_SD * noise
