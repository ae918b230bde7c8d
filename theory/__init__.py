"""neuronid.theory layer."""
