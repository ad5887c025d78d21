"""Linear models for classification and multilabel."""
