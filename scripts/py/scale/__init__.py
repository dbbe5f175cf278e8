"""scale: the scaling model behind scripts/scale-model (costs, model, measure, report)."""
