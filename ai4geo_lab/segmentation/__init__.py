"""Building segmentation: masks of building pixels from elevation and spectral evidence."""
