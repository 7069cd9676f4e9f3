"""Bad inputs of ``pinfer.base``, ``pinfer.validation`` and ``pinfer.types``."""

import jax

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
}
