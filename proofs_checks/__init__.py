"""neuronid.proofs_checks layer."""
