"""A templated vocabulary of utterances about goals: strings, meanings and costs.

``meaning[u, g]`` is the truth of utterance ``u`` of goal ``g`` in ``[0, 1]``; the
speakers of :mod:`pinfer.inverse.utterances` turn it into ``log P(u | g)``.
:func:`templated_vocabulary` builds the "get the {colour} gem / key" vocabulary of
Zhi-Xuan, Ying, Mansinghka and Tenenbaum (2024).
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp

from pinfer.inverse.utterance_checks import check_meaning
from pinfer.types import Array, Float
from pinfer.validation import check_array, check_finite

__all__ = ["Vocabulary", "templated_vocabulary"]


class Vocabulary(eqx.Module):
    """A finite set of utterances, their meaning over goals, and their costs.

    Attributes:
        utterances: the utterance strings (static), ``U`` of them.
        meaning: ``[U, G]`` truth of utterance ``u`` of goal ``g`` in ``[0, 1]``.
        cost: ``[U]`` cost of saying each utterance (pragmatic speaker).

    Example:
        >>> vocab = templated_vocabulary(["red", "blue"], [["red"], []])
        >>> vocab.index("get the red key"), vocab.meaning.shape
        (2, (4, 2))
    """

    utterances: tuple[str, ...] = eqx.field(static=True)
    meaning: Float[Array, "U G"]
    cost: Float[Array, "U"]

    def __check_init__(self):
        where = "Vocabulary"
        meaning = check_meaning(self.meaning, where)
        cost = check_array(
            self.cost,
            "cost",
            where=where,
            dtype="number",
            shape=(meaning.shape[0],),
            hint="One cost per utterance.",
        )
        check_finite(cost, "cost", where=where)
        if len(self.utterances) != meaning.shape[0]:
            raise ValueError(
                f"{where}: `utterances` must name the {meaning.shape[0]} rows of "
                f"`meaning`, got {len(self.utterances)} names."
            )

    def index(self, utterance: str) -> int:
        """The index of ``utterance``; a clear error lists the vocabulary."""
        if utterance not in self.utterances:
            raise ValueError(
                f"Unknown utterance {utterance!r}; the vocabulary is "
                f"{list(self.utterances)}."
            )
        return self.utterances.index(utterance)


def templated_vocabulary(
    gem_colors: Sequence[str],
    goal_keys: Sequence[Sequence[str]] | None = None,
    *,
    key_colors: Sequence[str] | None = None,
    null: str | None = "(says nothing)",
    gem_cost: float = 0.0,
    key_cost: float = 0.0,
    null_cost: float = 0.0,
    include_gems: bool = True,
) -> Vocabulary:
    """The vocabulary "get the {colour} gem", "get the {colour} key" and a null.

    Meaning: "get the c gem" is true of goal ``g`` iff ``gem_colors[g] == c``;
    "get the c key" iff ``c in goal_keys[g]`` (the keys goal ``g`` needs); the null
    utterance is true of every goal.

    Args:
        gem_colors: the colour name of each goal's gem, ``G`` of them.
        goal_keys: for each goal the key colours needed to reach it (None: none).
        key_colors: key colours to make utterances for (default: those used in
            ``goal_keys``, in order of first use).
        null: the null utterance, or None for none.
        gem_cost, key_cost, null_cost: costs of the three templates.
        include_gems: add the gem utterances (one per distinct gem colour).

    Returns:
        A :class:`Vocabulary` with utterances ordered gems, keys, null.

    Example:
        >>> vocab = templated_vocabulary(["red", "blue", "green"],
        ...                              [[], ["red"], ["red"]], include_gems=False)
        >>> vocab.utterances
        ('get the red key', '(says nothing)')
        >>> vocab.meaning.tolist()
        [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    num_goals = len(gem_colors)
    goal_keys = [[] for _ in gem_colors] if goal_keys is None else list(goal_keys)
    if num_goals == 0 or len(goal_keys) != num_goals:
        raise ValueError(
            f"templated_vocabulary needs one gem colour and one list of keys per "
            f"goal, got {num_goals} gem colours and {len(goal_keys)} key lists."
        )
    if key_colors is None:
        key_colors = list(dict.fromkeys(c for keys in goal_keys for c in keys))
    rows, names, costs = [], [], []
    if include_gems:
        for color in dict.fromkeys(gem_colors):
            names.append(f"get the {color} gem")
            rows.append([float(c == color) for c in gem_colors])
            costs.append(gem_cost)
    for color in key_colors:
        names.append(f"get the {color} key")
        rows.append([float(color in keys) for keys in goal_keys])
        costs.append(key_cost)
    if null is not None:
        names.append(null)
        rows.append([1.0] * num_goals)
        costs.append(null_cost)
    if not names:
        raise ValueError("The vocabulary is empty: include gems, keys or a null.")
    return Vocabulary(tuple(names), jnp.asarray(rows), jnp.asarray(costs))
