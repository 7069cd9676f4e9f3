"""Gymnasium registration of pinfer's environments as ``pinfer/<Name>-v0``.

Importing ``pinfer.envs`` registers every id below, once: a second call (or a module
reload) finds the ids already present and does nothing, so Gymnasium never warns about
overriding. Any Gymnasium user can then write, in one line::

    env = gymnasium.make("pinfer.envs:pinfer/GridWorld-v0", render_mode="rgb_array")

where ``pinfer.envs:`` makes Gymnasium import this package first. Keyword arguments
to ``make`` (``layout=``, ``slip=``, ``max_steps=``, ...) reach ``GridWorldGymEnv``.
"""

import gymnasium

from pinfer.envs.layouts import LAYOUTS

__all__ = ["ENV_IDS", "register_envs"]

_ENTRY = "pinfer.envs.gym_adapter:GridWorldGymEnv"

# id -> default keyword arguments of the entry point.
ENV_IDS: dict[str, dict] = {
    "pinfer/GridWorld-v0": {"layout": LAYOUTS["gems"]},
    "pinfer/GridWorldSlippery-v0": {"layout": LAYOUTS["gems"], "slip": 0.2},
    "pinfer/DoorsKeysGems-v0": {"layout": LAYOUTS["doors_keys_gems"]},
}


def register_envs() -> list[str]:
    """Register every id of ``ENV_IDS`` not yet in Gymnasium's registry (idempotent).

    Returns:
        The ids registered by this call (empty when all were present).

    Example:
        >>> register_envs()  # already done by `import pinfer.envs`
        []
    """
    added = []
    for env_id, kwargs in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=_ENTRY, kwargs=dict(kwargs))
            added.append(env_id)
    return added
