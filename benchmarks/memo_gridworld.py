"""Goal inference on ``benchmarks/inverse_problem.py`` written in memo-lang.

The oracle of ``tests/oracles/test_memo_parity.py`` and the anchor of
``benchmarks/bench_inverse.py``. Q is memo's recursion in the number of sweeps
``t`` (memoised with ``functools.cache``), the observer's belief memo's recursion in
the steps of the trajectory:

    Q_1(s, a, g) = E_{s'}[GOAL_VALUE * (s' == g)] - STEP_COST        (0 if s == g)
    Q_t(s, a, g) = Q_1(s, a, g) + DISCOUNT * E_{s'}[max_a' Q_{t-1}(s', a', g)]
    post(t)[g]   = P(g | a_0..a_t)    with post(t - 1) as the prior of step t

This is pinfer's ``goal_reward(mdp, g, GOAL_VALUE, STEP_COST)`` planned by
``value_iteration(mdp, DISCOUNT, n)`` (``V_0 = 0``; ``Q = V = 0`` at the goal, so
``max_a' Q_{t-1}(g, a', g) = 0`` and no special case is needed for entering it):
the two agree exactly for the same ``n``. ``post(t)`` calls ``post(t - 1)``, so
the posterior after every step of a length-``T`` trajectory costs
``T (T + 1) / 2`` memo steps.

As a script it scores the trajectories of an ``.npz`` (``states``, ``actions``,
``lengths``) into an ``.npz`` of posteriors; set ``JAX_ENABLE_X64=1`` for float64.
"""

import argparse
import sys
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np
from memo import memo

from benchmarks.inverse_problem import (
    BETA,
    DISCOUNT,
    GOAL_STATES,
    GOAL_VALUE,
    STEP_COST,
    transition_table,
)

__all__ = ["Q", "memo_final_posterior", "memo_posteriors", "post"]

# memo's recursions are deep Python call chains.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))

TRANSITION = transition_table()
S = jnp.arange(TRANSITION.shape[0])
A = jnp.arange(TRANSITION.shape[1])
G = jnp.array(GOAL_STATES)


@jax.jit
def transition(s, a, s_):
    # Converted at trace time, so it is float64 under x64.
    return jnp.asarray(TRANSITION)[s, a, s_]


@jax.jit
def entry(values, t):
    return values[t]


@cache
@memo
def Q[s: S, a: A, g: G](t):
    agent: knows(s, a, g)
    agent: given(s_ in S, wpp=transition(s, a, s_))
    agent: chooses(a_ in A, to_maximize=0.0 if t <= 1 else Q[s_, a_, g](t - 1))
    return E[
        0.0
        if s == g
        else (
            {GOAL_VALUE} * (agent.s_ == g)
            - {STEP_COST}
            + (0.0 if t <= 1 else {DISCOUNT} * Q[agent.s_, agent.a_, g](t - 1))
        )
    ]


@memo
def post[g: G](t, n, beta, states: ..., actions: ...):
    observer: knows(g)
    observer: thinks[
        agent : chooses(
            g in G, wpp=1.0 if t == 0 else post[g](t - 1, n, beta, states, actions)
        ),
        agent : given(s in S, wpp=(s == entry(states, t))),
        agent : chooses(a in A, wpp=exp(beta * Q[s, a, g](n))),
    ]
    observer: observes_that[agent.a == entry(actions, t)]
    return observer[Pr[agent.g == g]]


def memo_posteriors(states, actions, length: int, num_sweeps: int, beta=BETA):
    """``[length + 1, G]`` goal posteriors after 0..length steps (uniform prior).

    Row ``t + 1`` is memo's ``post(t)``: each row reruns the recursion from step 0.
    """
    states, actions = jnp.asarray(states), jnp.asarray(actions)
    rows = [np.full(len(GOAL_STATES), 1.0 / len(GOAL_STATES))]
    for t in range(length):
        rows.append(np.asarray(post(t, num_sweeps, beta, states, actions)))
    return np.stack(rows)


def memo_final_posterior(states, actions, length: int, num_sweeps: int, beta=BETA):
    """``[G]`` goal posterior after all ``length`` steps (one recursion)."""
    states, actions = jnp.asarray(states), jnp.asarray(actions)
    return np.asarray(post(length - 1, num_sweeps, beta, states, actions))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs")
    parser.add_argument("outputs")
    parser.add_argument("--num-sweeps", type=int, required=True)
    args = parser.parse_args(argv)
    data = np.load(args.inputs)
    num, num_steps = data["actions"].shape
    posteriors = np.full((num, num_steps + 1, len(GOAL_STATES)), np.nan)
    for i in range(num):
        length = int(data["lengths"][i])
        posteriors[i, : length + 1] = memo_posteriors(
            data["states"][i], data["actions"][i], length, args.num_sweeps
        )
    q_values = np.asarray(Q(args.num_sweeps))
    np.savez(args.outputs, posteriors=posteriors, q_values=q_values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
