"""Diagnostics: effective sample size, Monte-Carlo standard error, SBC and TARP."""

from pinfer.diagnostics.ess import ess, log_ess

__all__ = ["ess", "log_ess"]
