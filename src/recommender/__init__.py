"""Brand–micro-influencer recommender: calibrated conversion probabilities, explained."""

__version__ = "0.1.0"
