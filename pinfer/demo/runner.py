"""The ``pinfer demo`` job: runs each built-in demo and prints what it measured."""

from pathlib import Path

from pinfer.demo.goals import run_goal_inference
from pinfer.demo.tracking import run_tracking

__all__ = ["run_demo"]


def run_demo(
    out_dir: str | Path = "demo_output",
    seed: int = 0,
    num_particles: int = 2000,
    num_steps: int = 100,
    progress: bool = True,
) -> int:
    """Run the built-in demos, print their numbers, write figures to ``out_dir``.

    Returns the exit status (0 on success).

    Example:
        >>> run_demo("demo_output", num_particles=500, progress=False)  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    print(
        f"pinfer demo 1: tracking a target ({num_steps} steps, "
        f"{num_particles} particles, seed {seed})"
    )
    report = run_tracking(out_dir, seed, num_particles, num_steps, progress)
    gap = report.log_evidence_pinfer - report.log_evidence_kalman
    print(f"  log-evidence   pinfer particle filter {report.log_evidence_pinfer:12.3f}")
    print(f"                 exact Kalman filter    {report.log_evidence_kalman:12.3f}")
    print(f"                 difference             {gap:12.3f}")
    print(
        f"  position RMSE  pinfer {report.rmse_pinfer:.3f}   "
        f"Kalman {report.rmse_kalman:.3f}"
    )
    print(f"  filter time    {report.seconds:.2f} s (including compilation)")
    print(f"  figure         {report.figure}")
    print("pinfer demo 2: which gem is the agent heading for? (exact inverse planning)")
    goals = run_goal_inference(out_dir, seed)
    shown = ", ".join(f"gem {g}: {p:.3f}" for g, p in enumerate(goals.final_posterior))
    print(f"  after {goals.num_steps} moves  P(goal | moves) = {shown}")
    print(f"  true goal      gem {goals.true_goal}")
    print(f"  figure         {goals.figure}")
    return 0
