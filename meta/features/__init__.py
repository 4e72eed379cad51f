"""What describes a task: dataset statistics, landmarkers, early-curve statistics, study descriptors, store rows."""

from policy_store.meta.features.dataset import dataset_meta_features, read_dataset_csv, split_columns

__all__ = ["dataset_meta_features", "read_dataset_csv", "split_columns"]
