"""Bad inputs of ``pinfer.base``, ``pinfer.validation`` and ``pinfer.types``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.cases import Case, Exempt
from pinfer import base, validation

ENTRIES = {
    "pinfer.types.Array": Exempt("a type alias for annotations"),
    "pinfer.types.ArrayTree": Exempt("a type alias for annotations"),
    "pinfer.types.Bool": Exempt("a jaxtyping annotation"),
    "pinfer.types.Float": Exempt("a jaxtyping annotation"),
    "pinfer.types.Int": Exempt("a jaxtyping annotation"),
    "pinfer.types.PRNGKey": Exempt("a type alias for annotations"),
    "pinfer.types.Scalar": Exempt("a jaxtyping annotation"),
    "pinfer.types.UInt": Exempt("a jaxtyping annotation"),
    "pinfer.base.Algorithm": Exempt("a NamedTuple of two user functions"),
    "pinfer.base.InitFn": Exempt("a typing Protocol"),
    "pinfer.base.StepFn": Exempt("a typing Protocol"),
    "pinfer.base.check_key": [
        Case("key", "key", lambda: validation.check_key(0), match=("key", "0")),
        Case("key", "type", lambda: validation.check_key("k"), match=("key", "'k'")),
    ],
    "pinfer.base.split_key": [
        Case("key", "key", lambda: base.split_key(3), match=("key", "3")),
        Case(
            "num",
            "value",
            lambda: base.split_key(jax.random.key(0), 0),
            match=("num", "0"),
        ),
    ],
    "pinfer.validation.check_array": [
        Case(
            "value",
            "dtype",
            lambda: validation.check_array([0.5], "x", dtype="int"),
            match=("x", "float32"),
        ),
        Case(
            "value",
            "shape",
            lambda: validation.check_array(np.ones(3), "x", ndim=2),
            match=("x", "(3,)"),
        ),
        Case(
            "value",
            "shape",
            lambda: validation.check_array(np.ones((2, 3)), "x", shape=(2, 2)),
            match=("x", "[2, 3]"),
        ),
        Case(
            "value",
            "type",
            lambda: validation.check_array(object(), "x"),
            match=("x", "object"),
        ),
        Case(
            "dtype",
            "value",
            lambda: validation.check_array([1.0], "x", dtype="floating"),
            match=("dtype", "floating"),
        ),
    ],
    "pinfer.validation.check_callable": [
        Case(
            "value",
            "type",
            lambda: validation.check_callable(3, "fn"),
            match=("fn", "3"),
        ),
        Case(
            "value",
            "type",
            lambda: validation.check_callable("f", "fn", optional=True),
            match=("fn", "'f'", "or None"),
        ),
    ],
    "pinfer.validation.check_flag": [
        Case(
            "value",
            "type",
            lambda: validation.check_flag(1, "allow_stay"),
            match=("allow_stay", "1", "int"),
        ),
        Case(
            "value",
            "shape",
            lambda: validation.check_flag(np.ones(2, bool), "allow_stay"),
            match=("allow_stay", "[True, True]"),
        ),
        Case(
            "value",
            "type",
            lambda: validation.check_flag(jnp.bool_(True), "h", static=True),
            match=("h", "True", "Python bool"),
        ),
    ],
    "pinfer.validation.check_protocol": [
        Case(
            "value",
            "type",
            lambda: validation.check_protocol(3, "env", ("reset", "step")),
            match=("env", "int", "`reset`"),
        ),
        Case(
            "value",
            "type",
            lambda: validation.check_protocol(
                [], "model", ("copy", "run"), has=lambda obj, m: hasattr(obj, m)
            ),
            match=("model", "list", "no `run`"),
        ),
    ],
    "pinfer.validation.check_scalar": [
        Case(
            "value",
            "shape",
            lambda: validation.check_scalar(np.ones(2), "beta"),
            match=("beta", "(2,)"),
        ),
        Case(
            "value",
            "dtype",
            lambda: validation.check_scalar(True, "beta"),
            match=("beta", "bool"),
        ),
        Case(
            "value",
            "range",
            lambda: validation.check_scalar(-1.0, "beta", low=0.0),
            match=("beta", "-1.0", ">= 0.0"),
        ),
        Case(
            "value",
            "range",
            lambda: validation.check_scalar(np.inf, "cost", low=0.0),
            match=("cost", "inf", "finite"),
        ),
        Case(
            "value",
            "nan",
            lambda: validation.check_scalar(np.nan, "beta", low=0.0),
            match=("beta", "nan"),
        ),
    ],
    "pinfer.validation.traced_in_range": [
        Case(
            "value",
            "nan",
            lambda: jax.jit(lambda v: validation.traced_in_range(v, low=0.0))(
                jnp.array([1.0, np.nan])
            ),
            flag=lambda ok: not bool(ok[1]),
        ),
    ],
    "pinfer.validation.all_of": Exempt("a conjunction of traced_in_range results"),
    "pinfer.validation.nan_unless": Exempt(
        "a select: NaN where its flag is False, its arrays unchanged elsewhere"
    ),
    "pinfer.validation.error_unless": [
        Case(
            "checks",
            "range",
            lambda: eqx.filter_jit(
                lambda v: validation.error_unless(
                    v, [(validation.traced_in_range(v, low=0.0), "beta", ">= 0")]
                )
            )(jnp.array(-1.0)),
            match=("beta", ">= 0", "traced value"),
        ),
    ],
    "pinfer.validation.check_finite": [
        Case(
            "value",
            "nan",
            lambda: validation.check_finite([1.0, np.nan], "x"),
            match=("x", "nan", "position 1"),
        ),
        Case(
            "value",
            "range",
            lambda: validation.check_finite([np.inf], "x"),
            match=("x", "inf"),
        ),
    ],
    "pinfer.validation.check_fraction": [
        Case(
            "value",
            "range",
            lambda: validation.check_fraction(1.5, "f"),
            match=("f", "1.5"),
        ),
        Case(
            "value",
            "nan",
            lambda: validation.check_fraction(np.nan, "f"),
            match=("f", "nan"),
        ),
        Case(
            "value",
            "dtype",
            lambda: validation.check_fraction(True, "f"),
            match=("f", "True"),
        ),
        Case(
            "value",
            "shape",
            lambda: validation.check_fraction([0.5, 0.5], "f"),
            match=("f", "(2,)"),
        ),
        Case(
            "value",
            "range",
            lambda: eqx.filter_jit(lambda f: validation.check_fraction(f, "f"))(
                jnp.array(1.5)
            ),
            match=("f", "fraction", "traced value"),
        ),
    ],
    "pinfer.validation.check_indices": [
        Case(
            "value",
            "range",
            lambda: validation.check_indices(jnp.array([0, 4]), "a", 4),
            match=("a", "4", "0..3"),
        ),
        Case(
            "value",
            "dtype",
            lambda: validation.check_indices([0.5], "a", 4),
            match=("a", "float"),
        ),
        Case(
            "size",
            "range",
            lambda: validation.check_indices([0], "a", -1),
            match=("size", "-1"),
        ),
    ],
    "pinfer.validation.check_range": [
        Case(
            "value",
            "range",
            lambda: validation.check_range(-1.0, "b", low=0.0),
            match=("b", "-1.0"),
        ),
        Case(
            "value",
            "nan",
            lambda: validation.check_range(np.nan, "b", low=0.0),
            match=("b", "nan"),
        ),
        Case(
            "low",
            "value",
            lambda: validation.check_range(1.0, "b", low=2.0, high=1.0),
            match=("low", "2.0", "high"),
        ),
    ],
    "pinfer.validation.check_static_int": [
        Case(
            "value",
            "dtype",
            lambda: validation.check_static_int(2.5, "n"),
            match=("n", "2.5"),
        ),
        Case(
            "value",
            "range",
            lambda: validation.check_static_int(-1, "n", 0),
            match=("n", "-1"),
        ),
        Case(
            "value",
            "type",
            lambda: validation.check_static_int(True, "n"),
            match=("n", "True"),
        ),
    ],
    "pinfer.validation.check_type": [
        Case(
            "value",
            "type",
            lambda: validation.check_type("3", "n", int),
            match=("n", "'3'", "str"),
        ),
    ],
    "pinfer.validation.concrete": Exempt(
        "a predicate over any value: it returns None for what it cannot read"
    ),
    "pinfer.validation.is_traced": Exempt("a predicate over any pytree"),
    "pinfer.validation.first_out_of_range": [
        Case(
            "indices",
            "range",
            lambda: validation.first_out_of_range(jnp.array([0, 9]), 4),
            flag=lambda r: int(r) == 1,
        ),
        Case(
            "indices",
            "dtype",
            lambda: validation.first_out_of_range(jnp.array([0.5]), 4),
            match=("indices", "float"),
        ),
        Case(
            "size",
            "range",
            lambda: validation.first_out_of_range(jnp.array([0]), -2),
            match=("size", "-2"),
        ),
    ],
}
