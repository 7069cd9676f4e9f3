"""Side-by-side benchmarks of pinfer against anchor implementations (see run.py)."""
