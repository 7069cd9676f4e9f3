"""Tests for pinfer.sharding.

In-process tests run on the one device a default test process sees. The multi-device
checks run once, in a subprocess with eight CPU devices forced through ``XLA_FLAGS``
(the flag must be set before jax starts, so it cannot be set here); the subprocess
runs ``tests/_sharding_worker.py`` and prints its measurements as JSON, and each test
below asserts on one part of that report.
"""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from tolerances import rounding_atol

from pinfer import sharding
from pinfer.smc import resampling

WORKER = pathlib.Path(__file__).with_name("_sharding_worker.py")
NUM_DEVICES = 8
KS_ALPHA = 1e-3  # false-alarm level of each two-sample test
NUM_PARTICLES = 256  # the worker's population size


# ---------------------------------------------------------------- one device


def test_particle_mesh_defaults_and_custom_axis():
    mesh = sharding.particle_mesh()
    assert mesh.axis_names == ("particles",)
    assert mesh.shape["particles"] == len(jax.devices())
    agents = sharding.particle_mesh(jax.devices()[:1], axis_name="agents")
    assert agents.axis_names == ("agents",)
    with pytest.raises(ValueError, match="`devices` is empty"):
        sharding.particle_mesh([])


def test_shard_particles_keeps_values_and_tree():
    mesh = sharding.particle_mesh()
    tree = {"x": jnp.arange(12.0).reshape(4, 3), "i": jnp.arange(4)}
    out = sharding.shard_particles(tree, mesh)
    assert jax.tree.structure(out) == jax.tree.structure(tree)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(tree), strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.sharding.spec == jax.sharding.PartitionSpec("particles")


def test_shard_particles_errors_teach():
    mesh = sharding.particle_mesh()
    with pytest.raises(ValueError, match=r"\['s'\] is a scalar.*replicate"):
        sharding.shard_particles({"s": jnp.float32(1.0)}, mesh)
    with pytest.raises(ValueError, match="`axis_name`.*'agents'.*'particles'"):
        sharding.shard_particles(jnp.zeros(4), mesh, axis_name="agents")


def test_replicate_and_constrain():
    mesh = sharding.particle_mesh()
    y = sharding.replicate({"a": jnp.ones(3)}, mesh)
    assert y["a"].sharding.is_fully_replicated
    out = jax.jit(lambda x: sharding.constrain_particles(2.0 * x, mesh))(jnp.ones((4,)))
    np.testing.assert_array_equal(out, 2.0 * np.ones(4))
    assert out.sharding.is_equivalent_to(sharding.particle_sharding(mesh), 1)


def test_sharded_matches_jit_and_lays_out_outputs():
    mesh = sharding.particle_mesh()
    n = 64

    def fn(key, log_weights, num_samples):
        idx = resampling.systematic(key, log_weights, num_samples)
        return idx, log_weights[idx].sum()

    run = sharding.sharded(fn, mesh, n, static_argnums=2)
    log_w = jax.random.normal(jax.random.key(1), (n,))
    idx, total = run(jax.random.key(0), log_w, n)
    ref_idx, ref_total = jax.jit(fn, static_argnums=2)(jax.random.key(0), log_w, n)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(total, ref_total)
    assert idx.sharding.is_equivalent_to(sharding.particle_sharding(mesh), 1)
    assert total.sharding.is_fully_replicated


def test_sharded_float64():
    mesh = sharding.particle_mesh()
    with jax.enable_x64(True):
        run = sharding.sharded(lambda x: (x * 2.0, x.sum()), mesh, 8)
        doubled, total = run(jnp.arange(8.0))
        assert doubled.dtype == jnp.float64
        assert float(total) == 28.0


def test_sharded_rejects_bad_num_particles():
    mesh = sharding.particle_mesh()
    for bad in (0, -8):
        with pytest.raises(ValueError, match=rf"`num_particles`.*{bad}"):
            sharding.sharded(lambda x: x, mesh, bad)
    for bad in (2.5, "8", True):
        with pytest.raises(TypeError, match=r"`num_particles`.*static Python int"):
            sharding.sharded(lambda x: x, mesh, bad)


def test_arguments_of_the_wrong_kind_name_themselves():
    mesh = sharding.particle_mesh()
    with pytest.raises(TypeError, match=r"sharded: `fn`.*3"):
        sharding.sharded(3, mesh, 8)
    with pytest.raises(TypeError, match=r"sharded: `mesh`.*Mesh.*list"):
        sharding.sharded(lambda x: x, jax.devices(), 8)
    with pytest.raises(TypeError, match=r"shard_particles: `mesh`.*Mesh"):
        sharding.shard_particles(jnp.zeros(4), "mesh")
    with pytest.raises(TypeError, match=r"replicate: `mesh`"):
        sharding.replicate(jnp.zeros(4), None)
    with pytest.raises(TypeError, match=r"particle_mesh: `devices`.*'cpu'"):
        sharding.particle_mesh(["cpu"])
    with pytest.raises(TypeError, match=r"particle_mesh: `axis_name`.*3"):
        sharding.particle_mesh(axis_name=3)
    with pytest.raises(TypeError, match=r"particle_sharding: `axis_name`"):
        sharding.particle_sharding(mesh, axis_name=0)
    with pytest.raises(ValueError, match=r"constrain_particles: `axis_name`.*'agents'"):
        sharding.constrain_particles(jnp.zeros(4), mesh, axis_name="agents")


# ---------------------------------------------------------------- eight devices


def _needs(*sections):
    """Record which worker sections a multi-device test reads."""

    def mark(test):
        test.worker_sections = sections
        return test

    return mark


@pytest.fixture(scope="module")
def report(request):
    """One worker run for every selected multi-device test of this module."""
    sections = sorted(
        {
            name
            for item in request.session.items
            if item.module is request.module
            for name in getattr(item.function, "worker_sections", ())
        }
    )
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "")
        + f" --xla_force_host_platform_device_count={NUM_DEVICES}"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, str(WORKER), *sections],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_worker_sees_eight_devices(report):
    assert report["num_devices"] == NUM_DEVICES


@_needs("resampling")
def test_resampling_sharded_equals_one_device(report):
    res = report["resampling"]
    assert set(res) == {"multinomial", "stratified", "systematic", "residual"}
    for name, cases in res.items():
        for case in cases:
            assert case["equal"], (name, case)
            assert case["num_devices"] == NUM_DEVICES, (name, case)


@_needs("layout")
def test_sharded_splits_first_particle_axis_on_eight_devices(report):
    layout = report["layout"]
    assert layout["history_spec"] == ["None", "particles"]
    assert layout["history_shard_shape"] == [3, 64 // NUM_DEVICES, 2]
    assert layout["total_replicated"]
    assert layout["history_sum"] == 6.0 * 64 * 2


@_needs("errors")
def test_non_divisible_particle_count_errors_on_eight_devices(report):
    for where in ("shard_particles", "sharded"):
        msg = report["errors"][where]
        assert "100" in msg and "8 devices" in msg and "multiple of 8" in msg, msg
        assert "104" in msg, msg


def _assert_really_sharded(layout, num_particles, dim):
    assert layout["particles_devices"] == NUM_DEVICES
    assert layout["log_weights_devices"] == NUM_DEVICES
    assert layout["particles_shard_shape"] == [num_particles // NUM_DEVICES, dim]
    # Inside the compiled program the loop carries the per-device block, never the
    # whole population: the run is partitioned, not replicated and sliced at the end.
    assert layout["split_carry"] and not layout["full_carry"], layout


def _assert_same_distribution(result):
    one, many = np.asarray(result["one_device"]), np.asarray(result["sharded"])
    assert np.all(np.isfinite(one)) and np.all(np.isfinite(many))
    # Independent seeds in the two arms, so a two-sample test applies.
    ks = stats.ks_2samp(one, many)
    assert ks.pvalue > KS_ALPHA, (ks, one.mean(), many.mean())
    # Same seeds: the random numbers do not depend on the layout (partitionable
    # threefry), so a run differs only in the order of the sums over particles:
    # each step's log-sum-exp of N positive weights (two orders: rounding_rtol(N) on
    # the log, Higham 2002, 3.1), added over the steps. A resampling flip caused
    # by a reordered sum makes a few runs differ by more; a layout bug (wrong
    # ancestors, mixed-up blocks) would make nearly all of them differ.
    bound = rounding_atol(num_ops=NUM_PARTICLES, scale=result["num_steps"])
    diff = np.asarray(result["paired_abs_diff"])
    assert np.median(diff) <= bound, (np.median(diff), bound)
    assert np.mean(diff <= bound) > 0.5, np.mean(diff <= bound)


@pytest.mark.slow
@_needs("particle_filter")
def test_particle_filter_sharded_matches_one_device(report):
    result = report["particle_filter"]
    _assert_really_sharded(result, num_particles=NUM_PARTICLES, dim=2)
    _assert_same_distribution(result)


@pytest.mark.slow
@_needs("tempered")
def test_tempered_smc_sharded_matches_one_device(report):
    result = report["tempered"]
    _assert_really_sharded(result, num_particles=NUM_PARTICLES, dim=2)
    _assert_same_distribution(result)
