"""neuronid.numerics layer."""
