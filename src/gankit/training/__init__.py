"""Training: the loop (:func:`train`) and the parts it is made of."""

from .loop import TrainResult, train

__all__ = ["train", "TrainResult"]
