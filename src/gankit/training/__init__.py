"""Training: the loop (:func:`train`), a run driven one step at a time (:func:`start`, :class:`Session`),
and the parts both are made of (:mod:`.step`, :mod:`.setup`, :mod:`.state`)."""

from .loop import StopSignals, train
from .session import Session, TrainResult, start

__all__ = ["train", "start", "Session", "TrainResult", "StopSignals"]
