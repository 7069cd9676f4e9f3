"""Built-in demos run by ``pinfer demo`` (and so ``make demo``)."""

from pinfer.demo.runner import run_demo

__all__ = ["run_demo"]
