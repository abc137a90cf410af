"""Model builders of the example project: the seeds' models, built on first run into a cache."""
