"""ganbench: train the GAN family, measure generation quality, benchmark deepfake detectors."""

__version__ = "0.1.0"
