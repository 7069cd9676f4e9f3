"""Shape check shared by the calibration tests (SBC, TARP)."""

from pinfer.types import Array

__all__ = ["check_calibration_shapes"]


def check_calibration_shapes(
    name: str, theta_true: Array, posterior_samples: Array
) -> None:
    """Raise unless ``theta_true`` is ``[S, d]`` and posterior samples ``[S, L, d]``.

    Example:
        >>> import jax.numpy as jnp
        >>> check_calibration_shapes("sbc", jnp.zeros((3, 1)), jnp.zeros((3, 5, 1)))
    """
    if (
        theta_true.ndim != 2
        or posterior_samples.ndim != 3
        or posterior_samples.shape[::2] != theta_true.shape
    ):
        raise ValueError(
            f"{name} expects theta_true [S, d] and posterior_samples [S, L, d]; got "
            f"{theta_true.shape} and {posterior_samples.shape}. Add a trailing axis of "
            "size 1 for a scalar parameter."
        )
