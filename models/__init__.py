"""pinfer.models: concrete cognitive and agent models built on pinfer's kernels.

Shipped as ``pinfer.models`` (the top-level ``models/`` folder is mapped by setuptools).
"""

from pinfer.models import gaussian, kalman, linear_gaussian

__all__: list[str] = ["gaussian", "kalman", "linear_gaussian"]
