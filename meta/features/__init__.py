"""What describes a task: dataset statistics, landmarkers, early-curve statistics, study descriptors, store rows.

The public names load their module on first use, so importing one sub-module (the study descriptors a
recommendation reads) does not import the dataset statistics' pandas and scikit-learn.
"""

from policy_store.lazy import lazy_exports

__all__ = ["dataset_meta_features", "read_dataset_csv", "split_columns"]

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "dataset"))
