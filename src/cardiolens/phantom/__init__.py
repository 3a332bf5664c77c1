"""Physics-based digital phantoms (SPECT/PET, CT) with exact ground truth."""
