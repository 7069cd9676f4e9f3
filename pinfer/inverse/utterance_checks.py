"""Boundary checks of the utterance channel (:mod:`pinfer.inverse.utterances`).

Shapes and dtypes are checked always (also on traced arrays); values (truth values
in ``[0, 1]``, probabilities, indices) only on concrete ones. Messages follow
:mod:`pinfer.validation`.
"""

import jax.numpy as jnp

from pinfer.inverse.filtering import check_log_table
from pinfer.types import Array
from pinfer.validation import (
    check_array,
    check_indices,
    check_range,
    check_scalar,
    check_static_int,
)


def check_meaning(meaning, where: str) -> Array:
    """``[U, G]`` truth values in ``[0, 1]``."""
    meaning = check_array(
        meaning,
        "meaning",
        where=where,
        ndim=2,
        dtype="number",
        hint="meaning[u, g] is the truth of utterance u of goal g.",
    )
    check_range(
        meaning,
        "meaning",
        where=where,
        low=0.0,
        high=1.0,
        axes=("utterance", "goal"),
        hint="Truth values lie in [0, 1].",
    )
    return meaning


def check_epsilon(epsilon, where: str) -> None:
    check_scalar(
        epsilon,
        "epsilon",
        where=where,
        low=0.0,
        high=1.0,
        high_open=True,
        hint="It is the probability of a uniformly random utterance.",
    )


def check_speaker(speaker_log_probs, where: str, num_goals=None) -> Array:
    """``[G, U]`` speaker log-probabilities."""
    if num_goals is None:
        return check_log_table(speaker_log_probs, "speaker_log_probs", where, ndim=2)
    hint = f"One row per goal, the same G = {num_goals} as `log_policies`."
    return check_log_table(
        speaker_log_probs,
        "speaker_log_probs",
        where,
        shape=(num_goals, None),
        hint=hint,
    )


def check_utterances(utterances, spoken, num_utterances: int, where: str, shape):
    """Utterance indices (where spoken) and the ``spoken`` flags."""
    spoken = check_array(spoken, "spoken", where=where, dtype="bool", shape=shape)
    utterances = check_array(
        utterances, "utterances", where=where, dtype="int", shape=shape
    )
    check_indices(
        utterances,
        "utterances",
        num_utterances,
        where=where,
        mask=spoken,
        axes=("step",) if shape else None,
        what="utterance",
    )
    return utterances, spoken


def check_num_hypotheses(num_hypotheses, num_goals: int, where: str) -> int:
    count = check_static_int(num_hypotheses, "num_hypotheses", 1, where=where)
    if count % num_goals:
        raise ValueError(
            f"{where}: `num_hypotheses` = {count} is not a multiple of the "
            f"{num_goals} goals of the speaker model; hypotheses must be the "
            "goal-major flattening of a [G, B, K] grid."
        )
    return count


def utterance_out_of_range(utterances, spoken, num_utterances: int) -> Array:
    """True where a spoken utterance index is outside the vocabulary (traced)."""
    return spoken & ((utterances < 0) | (utterances >= num_utterances))


def gather_utterances(speaker_log_probs, utterances) -> Array:
    """``[..., G]`` columns of the speaker table; ``-inf`` out of range."""
    return jnp.moveaxis(
        speaker_log_probs.at[:, utterances].get(
            mode="fill", fill_value=-jnp.inf, wrap_negative_indices=False
        ),
        0,
        -1,
    )
