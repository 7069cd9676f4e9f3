"""pinfer.envs: functional JAX environments with Gymnasium adapters.

Shipped as ``pinfer.envs`` (the top-level ``envs/`` folder is mapped by setuptools).
Environments are gymnax-style and pure: ``reset(key, params)`` and
``step(key, state, action, params)``; tabular ones expose ``tabular_mdp(params)``.
This is the only part of pinfer that imports Gymnasium.
"""

__all__: list[str] = []
