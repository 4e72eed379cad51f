"""Learning-curve sources: LCDB, curves from real scikit-learn training, user files."""
