"""Bad inputs of ``pinfer.base``, ``pinfer.validation`` and ``pinfer.types``."""

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
