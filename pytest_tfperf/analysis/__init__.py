"""What a model is: summary, per-op profile, FLOPs (with control flow)."""
