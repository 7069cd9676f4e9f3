"""Spreading the particle axis (or the agent or subject axis) over a device mesh.

Particles are independent between the coupling steps of SMC, so the particle axis is
the natural one to split across devices. pinfer leaves the splitting to XLA's SPMD
partitioner (GSPMD; Xu et al., 2021): the kernels stay ordinary single-program JAX,
the particle arrays get a ``NamedSharding`` over a one-axis ``Mesh``, and the
partitioner runs every per-particle operation on the local block and turns the few
operations that couple particles (``logsumexp`` of the weights, the cumulative sum
and search of resampling, the ancestor gather) into collectives::

    mesh = particle_mesh()                    # D devices on axis "particles"
    x = shard_particles(x, mesh)              # leaf [N, ...] -> D blocks [N/D, ...]
    run = sharded(fn, mesh, num_particles=N)  # jit; leaves with leading N are split
    out = run(key, ...)                       # over the mesh, all others replicated

Layout never changes what is computed: a sharded run draws the same random numbers
(``jax_threefry_partitionable``, the default) and differs from a one-device run only
in the order of floating-point reductions. After resampling that round-off can pick a
different ancestor now and then, so sharded and unsharded runs agree in distribution,
not bit for bit.

The same functions spread agents or subjects: name the mesh axis ``"agents"`` or
``"subjects"`` and pass the population size as ``num_particles``. On several hosts,
call ``jax.distributed.initialize()`` first; ``particle_mesh()`` then spans every
device of every process and each process passes the same global arrays.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from pinfer.types import ArrayTree
from pinfer.validation import check_callable, check_static_int, check_type

__all__ = [
    "constrain_particles",
    "particle_mesh",
    "particle_sharding",
    "replicate",
    "shard_particles",
    "sharded",
]


def particle_mesh(
    devices: Sequence[jax.Device] | None = None, axis_name: str = "particles"
) -> Mesh:
    """A one-axis ``Mesh`` over ``devices`` (default: every device JAX sees).

    Args:
        devices: the devices to spread particles over; ``None`` takes ``jax.devices()``.
        axis_name: the name of the mesh axis (``"particles"``, ``"agents"``, ...).

    Returns:
        A ``jax.sharding.Mesh`` of shape ``{axis_name: len(devices)}``.

    Raises:
        TypeError: an entry of ``devices`` is not a ``jax.Device``, or ``axis_name``
            is not a string.
        ValueError: ``devices`` is empty, or ``axis_name`` is empty.

    Example:
        >>> mesh = particle_mesh()
        >>> mesh.axis_names
        ('particles',)
    """
    where = "particle_mesh"
    _check_axis_name(axis_name, where)
    if axis_name == "":
        raise ValueError(f"{where}: `axis_name` must be a non-empty string, got ''.")
    if devices is None:
        devices = jax.devices()
    else:
        check_type(devices, "devices", (list, tuple, np.ndarray), where=where)
        for device in np.ravel(np.asarray(devices, dtype=object)):
            check_type(
                device,
                "devices",
                jax.Device,
                where=where,
                hint="Pass jax.Device objects, e.g. jax.devices()[:4].",
            )
        devices = list(devices)
    if len(devices) == 0:
        raise ValueError(f"{where}: `devices` is empty; pass at least one device.")
    return Mesh(np.asarray(devices), (axis_name,))


def _check_axis_name(axis_name: Any, where: str) -> None:
    check_type(
        axis_name,
        "axis_name",
        str,
        where=where,
        hint='The name of a mesh axis, e.g. "particles".',
    )


def _axis(mesh: Mesh, axis_name: str | None, where: str) -> tuple[str, int]:
    """The mesh axis to shard over (default: the mesh's first) and its device count."""
    check_type(
        mesh,
        "mesh",
        Mesh,
        where=where,
        hint="Build one with pinfer.sharding.particle_mesh().",
    )
    if axis_name is not None:
        _check_axis_name(axis_name, where)
    name = mesh.axis_names[0] if axis_name is None else axis_name
    if name not in mesh.axis_names:
        raise ValueError(
            f"{where}: `axis_name` must name an axis of the mesh, got {name!r}; its "
            f"axes are {mesh.axis_names}. Pass one of them or build the mesh with "
            "`particle_mesh(axis_name=...)`."
        )
    return name, mesh.shape[name]


def _check_divisible(where: str, what: str, size: int, count: int, name: str) -> None:
    if size % count != 0:
        fix = -(-size // count) * count
        raise ValueError(
            f"{where}: {what}, which does not split evenly over the {count} devices "
            f"of mesh axis {name!r}. Choose a number of particles that is a multiple "
            f"of {count} (e.g. {fix})."
        )


def _check_leaves(where: str, tree: ArrayTree, count: int, name: str) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        leaf_name = f"`tree` leaf {jax.tree_util.keystr(path)}" if path else "`tree`"
        shape = tuple(np.shape(leaf))
        if len(shape) == 0:
            raise ValueError(
                f"{where}: {leaf_name} is a scalar, but every leaf needs a leading "
                "particle axis. Pass shared values through `replicate`."
            )
        what = f"{leaf_name} has leading dimension {shape[0]} (shape {shape})"
        _check_divisible(where, what, shape[0], count, name)


def particle_sharding(mesh: Mesh, axis_name: str | None = None) -> NamedSharding:
    """The sharding that splits an array's leading axis over ``axis_name``.

    Args:
        mesh: the device mesh.
        axis_name: the mesh axis; ``None`` takes the mesh's first axis.

    Returns:
        ``NamedSharding(mesh, PartitionSpec(axis_name))``; trailing axes stay whole.

    Example:
        >>> particle_sharding(particle_mesh()).spec == PartitionSpec("particles")
        True
    """
    name, _ = _axis(mesh, axis_name, "particle_sharding")
    return NamedSharding(mesh, PartitionSpec(name))


def shard_particles(
    tree: ArrayTree, mesh: Mesh, axis_name: str | None = None
) -> ArrayTree:
    """Place every leaf of ``tree`` with its leading (particle) axis split over mesh.

    Args:
        tree: a pytree whose leaves are arrays ``[N, ...]``, ``N`` a multiple of the
            number of devices on ``axis_name``.
        mesh: the device mesh, e.g. from :func:`particle_mesh`.
        axis_name: the mesh axis; ``None`` takes the mesh's first axis.

    Returns:
        The same tree, each leaf a ``jax.Array`` of shape ``[N, ...]`` whose device
        ``d`` holds rows ``[d N/D, (d + 1) N/D)``.

    Raises:
        ValueError: a leaf is a scalar or its leading dimension is not a multiple of the
            device count.

    Example:
        >>> mesh = particle_mesh()
        >>> x = shard_particles(jnp.zeros((8, 2)), mesh)
        >>> x.sharding.spec == PartitionSpec("particles")
        True
    """
    name, count = _axis(mesh, axis_name, "shard_particles")
    _check_leaves("shard_particles", tree, count, name)
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec(name)))


def replicate(tree: ArrayTree, mesh: Mesh) -> ArrayTree:
    """Place a full copy of every leaf of ``tree`` on every device of ``mesh``.

    Use it for values every particle reads: model parameters, observations, keys.

    Args:
        tree: any pytree of arrays.
        mesh: the device mesh.

    Returns:
        The same tree, each leaf replicated (``PartitionSpec()``) over the mesh.

    Example:
        >>> y = replicate(jnp.ones(3), particle_mesh())
        >>> y.sharding.is_fully_replicated
        True
    """
    check_type(
        mesh,
        "mesh",
        Mesh,
        where="replicate",
        hint="Build one with pinfer.sharding.particle_mesh().",
    )
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def constrain_particles(
    tree: ArrayTree, mesh: Mesh, axis_name: str | None = None
) -> ArrayTree:
    """Inside ``jit``: ask the partitioner to keep each leaf's leading axis split.

    A ``jax.lax.with_sharding_constraint`` on every leaf. It is the hook a kernel calls
    on its particle state (after initialisation and after resampling) so that the
    layout does not depend on how far the partitioner propagates shardings by itself.

    Args:
        tree: a pytree of arrays ``[N, ...]`` (traced or concrete).
        mesh: the device mesh.
        axis_name: the mesh axis; ``None`` takes the mesh's first axis.

    Returns:
        The same values, constrained to ``particle_sharding(mesh, axis_name)``.

    Example:
        >>> mesh = particle_mesh()
        >>> f = jax.jit(lambda x: constrain_particles(x * 2.0, mesh))
        >>> f(jnp.ones((8, 2))).sharding.is_equivalent_to(particle_sharding(mesh), 2)
        True
    """
    name, count = _axis(mesh, axis_name, "constrain_particles")
    _check_leaves("constrain_particles", tree, count, name)
    return jax.lax.with_sharding_constraint(
        tree, NamedSharding(mesh, PartitionSpec(name))
    )


def sharded(
    fn: Callable[..., Any],
    mesh: Mesh,
    num_particles: int,
    *,
    axis_name: str | None = None,
    **jit_kwargs: Any,
) -> Callable[..., Any]:
    """``jax.jit(fn)`` with the particle axis of its inputs and outputs split over mesh.

    One rule for arguments and results alike: in every array leaf, the first axis of
    length ``num_particles`` is split across ``axis_name`` (``[N, ...]`` by rows,
    histories ``[T, N, ...]`` along ``N``); leaves without such an axis are
    replicated. The partitioner propagates the layout from these boundaries into
    ``fn`` (through ``lax.scan`` and ``lax.while_loop`` carries), so a particle filter
    or a tempered-SMC run keeps its particles split from start to end and only the
    coupling steps communicate. An axis that happens to have length ``num_particles``
    without being the particle axis is split too; that costs communication, never
    correctness (pick ``N`` unlike the other sizes to avoid it). A function whose
    results carry no particle axis at all (only a log-evidence, say) and whose
    arguments carry none either gives the partitioner nothing to go on and runs
    replicated: return the particles too (``particle_filter`` does by default), or
    call :func:`constrain_particles` on them inside ``fn``.

    Args:
        fn: the function to run, e.g. ``pinfer.smc.particle_filter`` with its
            non-array arguments bound.
        mesh: the device mesh, e.g. from :func:`particle_mesh`.
        num_particles: ``N``, a multiple of the device count on ``axis_name``.
        axis_name: the mesh axis; ``None`` takes the mesh's first axis.
        **jit_kwargs: passed on to ``jax.jit`` (``static_argnums``,
            ``static_argnames``, ``donate_argnums``, ...).

    Returns:
        The jitted function (a ``jax.jit`` wrapper, so ``.lower`` works); it returns
        what ``fn`` returns, with the layout above.

    Raises:
        ValueError: ``num_particles`` is not a positive multiple of the device count.
        TypeError: ``fn`` is not callable, ``mesh`` is not a ``Mesh``, or
            ``num_particles`` is not a static int.

    Example:
        >>> from functools import partial
        >>> from pinfer.smc import particle_filter
        >>> mesh = particle_mesh()
        >>> run = sharded(
        ...     partial(particle_filter, num_particles=1024), mesh, num_particles=1024
        ... )
        >>> result = run(jax.random.key(0), model, observations)  # doctest: +SKIP
        >>> result.particles.sharding.num_devices  # on 8 devices  # doctest: +SKIP
        8
    """
    check_callable(fn, "fn", where="sharded")
    name, count = _axis(mesh, axis_name, "sharded")
    num_particles = check_static_int(num_particles, "num_particles", 1, where="sharded")
    what = f"num_particles is {num_particles}"
    _check_divisible("sharded", what, num_particles, count, name)

    def place(leaf: Any) -> Any:
        if not isinstance(leaf, jax.Array):
            return leaf  # static Python values pass through untouched
        axis = next((i for i, d in enumerate(leaf.shape) if d == num_particles), None)
        spec = PartitionSpec() if axis is None else PartitionSpec(*[None] * axis, name)
        return jax.lax.with_sharding_constraint(leaf, NamedSharding(mesh, spec))

    def lay_out(tree: Any) -> Any:
        return jax.tree.map(place, tree)

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = lay_out((args, kwargs))
        return lay_out(fn(*args, **kwargs))

    return jax.jit(wrapped, **jit_kwargs)
