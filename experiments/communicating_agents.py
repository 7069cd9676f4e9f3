"""Communicating agents: an instruction sharpens goal inference beyond actions alone.

After "Inferring the Goals of Communicating Agents from Actions and Instructions"
(Zhi-Xuan, Ying, Mansinghka and Tenenbaum, 2024). An agent wants one of five gems in
a gridworld with keys and doors; two gems lie behind a red door, one behind a blue
door, two are free. At a chosen step (0 by default) it also says an instruction to an
assistant, sampled from a speaker model over "get the {red, blue} key" and a null
utterance (RSA speaker by default, literal with ``--speaker literal``): "get the red
key" is true of the two gems behind the red door, "get the blue key" of the one
behind the blue door, the null of every gem. An observer infers the goal exactly::

    for each episode (vmap): goal g ~ uniform, trajectory ~ rollout(Boltzmann agent
        planning to g), utterance u ~ speaker(. | g) at step t_u
    log_pi[g, b]   = Boltzmann log-policy of goal g at beta b (beta grid, marginalised)
    without        = filter(action log-likelihoods)
    with           = filter(action log-likelihoods + log speaker(u | g) at step t_u)
    entropy[t]     = H(goal posterior after t steps), in bits

The claim checked: averaged over episodes, the entropy with the utterance is lower
than without at every step after the utterance (rows ``t_u + 1 .. T``). Under a
correct model the difference is the expected information gain of the utterance
given the actions, which is never negative; it is large early (the key names a
door) and shrinks as the actions pin the goal. Once the agent has reached its gem
both entropies are below ``DECIDED_BITS`` (float32 rounds them to 0, and in float64
the remaining 1e-5-bit differences are Monte-Carlo noise): such steps count as
decided, and the claim is that every later step is strictly lower or decided.

Run: ``python -m experiments.communicating_agents --out DIR [--episodes N]
[--speaker rsa|literal] [--utter-step T] [--seed N] [--quick]``.
Writes ``communicating_agents.md`` / ``.csv`` (per step: mean entropy with and
without the utterance, their standard errors and the paired difference) and
``communicating_agents.png`` (mean entropy over time, both conditions, with 95 %
bands). Exits with status 1 when the claim fails; ``--quick`` (8 episodes) does
not test it and says so. The world charges 1 per step (``make_gridworld``'s
default); the agent's gem pays ``GOAL_VALUE`` with no extra ``step_cost``.
"""

import argparse
import sys
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from experiments._common import (
    claims_exit_status,
    prepare_output,
    save_figure,
    write_table,
)
from pinfer.agents import BoltzmannAgent, GoalValues, PlannerParams, rollout
from pinfer.envs import make_gridworld
from pinfer.inverse import (
    communicative_goal_posterior,
    literal_speaker,
    pragmatic_speaker,
    templated_vocabulary,
)
from pinfer.planning import boltzmann_policy

LAYOUT = """
    G....#G...G
    .....R.....
    ####.######
    S.r.......b
    ####.######
    .....B....G
    G....#.....
"""
# Gem g is drawn in colour g of pinfer.envs.GEM_COLORS; the keys each gem needs.
GEM_NAMES = ("red", "blue", "green", "purple", "orange")
GOAL_KEYS = ((), ("red",), ("red",), ("blue",), ())
GOAL_VALUE, DISCOUNT, SWEEPS = 30.0, 0.99, 80
TRUE_BETA, BETAS = 2.0, (1.0, 2.0, 4.0)
# Below this entropy (bits) in both conditions the goal is already known from the
# actions: the remaining differences are float round-off and Monte-Carlo noise.
DECIDED_BITS = 1e-3
DEFAULT_OUT = "experiments/results/communicating_agents"


def build_problem(num_steps: int):
    """The world, the Boltzmann agent, the goal masks and the hypothesis policies."""
    env, env_params = make_gridworld(LAYOUT, step_reward=-1.0, max_steps=num_steps)
    world = env.tabular_mdp(env_params)
    masks = env.goal_state_mask(env_params)  # [G, S]: a gem with any keys held
    agent = BoltzmannAgent(num_iterations=SWEEPS)

    def agent_params(goal, beta):
        reward = GoalValues(GOAL_VALUE * masks[goal], masks[goal])
        return PlannerParams(world, reward, beta, DISCOUNT)

    def q_values(goal):
        return agent.init(jax.random.key(0), agent_params(goal, 1.0)).q_values

    q = jax.vmap(q_values)(jnp.arange(masks.shape[0]))  # [G, S, A]
    betas = jnp.asarray(BETAS)
    log_policies = boltzmann_policy(q[:, None], betas[None, :, None, None])
    return env, env_params, agent, agent_params, log_policies[:, :, None]


def speaker_model(kind: str, alpha: float, epsilon: float):
    """``(vocabulary, [G, U] log P(u | g))`` for ``kind`` in {"rsa", "literal"}."""
    vocab = templated_vocabulary(GEM_NAMES, GOAL_KEYS, include_gems=False)
    if kind == "rsa":
        log_prior = jnp.zeros(len(GEM_NAMES))
        return vocab, pragmatic_speaker(
            vocab.meaning, log_prior, alpha, vocab.cost, epsilon
        )
    if kind == "literal":
        return vocab, literal_speaker(vocab.meaning, epsilon)
    raise ValueError(f"--speaker must be 'rsa' or 'literal', got {kind!r}.")


def entropy_bits(log_probs):
    """Entropy (bits) of distributions along the last axis, ``0 log 0 = 0``."""
    probs = jnp.exp(log_probs)
    terms = jnp.where(probs > 0, probs * log_probs, 0.0)
    return -jnp.sum(terms, axis=-1) / jnp.log(2.0)


def simulate(key, num_episodes, num_steps, utter_step, speaker_log_probs):
    """Entropies ``[N, T + 1]`` with and without the utterance, goals, utterances."""
    env, env_params, agent, agent_params, log_policies = build_problem(num_steps)
    num_goals, num_utterances = speaker_log_probs.shape

    def episode(key):
        key_goal, key_roll, key_say = jax.random.split(key, 3)
        goal = jax.random.randint(key_goal, (), 0, num_goals)
        params = agent_params(goal, TRUE_BETA)
        traj = rollout(key_roll, agent, params, env, env_params, num_steps)
        utterance = jax.random.categorical(key_say, speaker_log_probs[goal])
        utterances = jnp.full(num_steps, utterance)
        spoken = jnp.arange(num_steps) == utter_step

        def posterior(spoken):
            return communicative_goal_posterior(
                log_policies,
                None,
                traj.obs[:-1],
                traj.actions,
                traj.mask,
                speaker_log_probs,
                utterances,
                spoken,
            ).log_goal_posterior

        with_u = entropy_bits(posterior(spoken))
        without = entropy_bits(posterior(jnp.zeros_like(spoken)))
        return with_u, without, goal, utterance, jnp.sum(traj.mask)

    keys = jax.random.split(key, num_episodes)
    return jax.jit(jax.vmap(episode))(keys)


def summarise(with_u, without, utter_step):
    """Per-step rows for the table and whether the claim holds."""
    with_u, without = np.asarray(with_u, float), np.asarray(without, float)
    n = with_u.shape[0]
    rows, ok = [], True
    for t in range(with_u.shape[1]):
        diff = with_u[:, t] - without[:, t]
        after = t > utter_step
        lower = bool(with_u[:, t].mean() < without[:, t].mean())
        decided = max(with_u[:, t].mean(), without[:, t].mean()) < DECIDED_BITS
        ok &= lower or decided or not after
        rows.append(
            {
                "step": t,
                "after_utterance": after,
                "entropy_with": float(with_u[:, t].mean()),
                "se_with": float(with_u[:, t].std(ddof=1) / np.sqrt(n)),
                "entropy_without": float(without[:, t].mean()),
                "se_without": float(without[:, t].std(ddof=1) / np.sqrt(n)),
                "difference": float(diff.mean()),
                "se_difference": float(diff.std(ddof=1) / np.sqrt(n)),
                "with_lower": lower,
                "decided": bool(decided),
            }
        )
    return rows, ok


def plot(rows, utter_step, out, title):
    """Mean entropy over time with 95 % bands. Once the goal is known both curves
    sit at 0 (and they start together): the two get their own line style and
    marker (hollow and larger for the one drawn first), so neither hides."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    steps = np.array([r["step"] for r in rows])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    styles = (
        ("without", "actions only", "tab:gray", "--", "s", 7, "none"),
        ("with", "actions + instruction", "tab:blue", "-", "o", 3.5, None),
    )
    for name, label, color, line, marker, size, face in styles:
        mean = np.array([r[f"entropy_{name}"] for r in rows])
        se = np.array([r[f"se_{name}"] for r in rows])
        ax.plot(
            steps,
            mean,
            line,
            color=color,
            marker=marker,
            ms=size,
            mfc=face or color,
            label=label,
        )
        ax.fill_between(
            steps, mean - 1.96 * se, mean + 1.96 * se, color=color, alpha=0.2
        )
    ax.axvline(utter_step + 1, color="k", ls=":", lw=1, label="after the instruction")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("observed steps t")
    ax.set_ylabel("goal-posterior entropy (bits)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, out, "communicating_agents")


def run(
    out,
    *,
    num_episodes=400,
    num_steps=40,
    utter_step=0,
    speaker="rsa",
    alpha=2.0,
    epsilon=0.05,
    seed=0,
    tests_claims=True,
):
    """Simulate, infer, write the table and the figure; ``(rows, ok, seconds)``.

    ``tests_claims=False`` (a quick run) says in the table that the claim was not
    tested."""
    if not 0 <= utter_step < num_steps or num_episodes < 2:
        raise ValueError(
            f"need 0 <= utter_step < num_steps and num_episodes >= 2, got "
            f"utter_step={utter_step}, num_steps={num_steps}, "
            f"num_episodes={num_episodes}."
        )
    out = prepare_output(out)
    vocab, speaker_log_probs = speaker_model(speaker, alpha, epsilon)
    start = time.perf_counter()
    with_u, without, goals, utterances, lengths = jax.block_until_ready(
        simulate(
            jax.random.key(seed), num_episodes, num_steps, utter_step, speaker_log_probs
        )
    )
    seconds = time.perf_counter() - start
    rows, ok = summarise(with_u, without, utter_step)
    strict = sum(r["with_lower"] for r in rows if r["after_utterance"])
    verdict = ("holds" if ok else "FAILS") if tests_claims else "not tested (--quick)"
    said = np.bincount(np.asarray(utterances), minlength=len(vocab.utterances))
    notes = (
        f"{num_episodes} episodes, {speaker} speaker (alpha={alpha}, "
        f"epsilon={epsilon}), utterance at step {utter_step}, Boltzmann agent "
        f"beta={TRUE_BETA}, beta grid {BETAS} marginalised. Mean trajectory length "
        f"{float(np.mean(lengths)):.1f}. Utterances said: "
        + ", ".join(f"{u!r} {c}" for u, c in zip(vocab.utterances, said, strict=True))
        + f". Claim (entropy lower with the utterance at every step after it, "
        f"or both below {DECIDED_BITS} bits): {verdict}; "
        f"strictly lower at {strict} of {num_steps - utter_step} steps after it."
    )
    write_table(rows, out, "communicating_agents", "Communicating agents", notes)
    plot(rows, utter_step, out, f"{num_episodes} episodes, {speaker} speaker")
    return rows, ok, seconds


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Goal-posterior entropy with and without instructions."
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="8 episodes (smoke)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--utter-step", type=int, default=0)
    parser.add_argument("--speaker", choices=("rsa", "literal"), default="rsa")
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--epsilon", type=float, default=0.05)
    return parser.parse_args(argv)


def _verdict(row) -> str:
    if not row["after_utterance"]:
        return "(before)"
    return "yes" if row["with_lower"] else "decided" if row["decided"] else "NO"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    rows, ok, seconds = run(
        args.out,
        num_episodes=8 if args.quick else args.episodes,
        num_steps=args.steps,
        utter_step=args.utter_step,
        speaker=args.speaker,
        alpha=args.alpha,
        epsilon=args.epsilon,
        seed=args.seed,
        tests_claims=not args.quick,
    )
    print(f"{'step':>4} {'with':>8} {'without':>8} {'diff':>8} {'se':>7} lower")
    for r in rows:
        print(
            f"{r['step']:>4} {r['entropy_with']:8.4f} {r['entropy_without']:8.4f} "
            f"{r['difference']:8.4f} {r['se_difference']:7.4f} "
            f"{_verdict(r)}"
        )
    print(f"simulation + inference: {seconds:.1f} s; results in {args.out}")
    return claims_exit_status(
        ok, args.quick, "the entropy is not lower at every step after the utterance"
    )


if __name__ == "__main__":
    sys.exit(main())
