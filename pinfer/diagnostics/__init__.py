"""Diagnostics: effective sample size, Monte-Carlo standard error, SBC and TARP."""

from pinfer.diagnostics.ess import ess, log_ess
from pinfer.diagnostics.mcse import mcmc_ess, mcse, mcse_weighted
from pinfer.diagnostics.sbc import (
    SBCResult,
    rank_uniformity_test,
    sbc,
    sbc_ranks,
)
from pinfer.diagnostics.tarp import TARPResult, ks_uniform_test, tarp, tarp_fractions

__all__ = [
    "SBCResult",
    "TARPResult",
    "ess",
    "ks_uniform_test",
    "log_ess",
    "mcmc_ess",
    "mcse",
    "mcse_weighted",
    "rank_uniformity_test",
    "sbc",
    "sbc_ranks",
    "tarp",
    "tarp_fractions",
]
