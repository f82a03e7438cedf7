"""An empty program: what start-up costs when there is nothing to record."""
