"""Walk a jaxpr's equations, nested ones (loop bodies, branches) included."""


def equations(jaxpr, in_loop=False):
    """Yield ``(equation, inside a scan/while body)`` for each equation, recursively."""
    for eqn in jaxpr.eqns:
        yield eqn, in_loop
        loop = in_loop or eqn.primitive.name in ("scan", "while")
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from equations(inner, loop)


def primitives(jaxpr):
    """``{(primitive name, inside a scan/while body)}`` of a jaxpr, recursively."""
    return {(eqn.primitive.name, in_loop) for eqn, in_loop in equations(jaxpr)}
