"""numpy pixels as QImages: the one place that picks the format and stride and copies the pixels over."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def pixels_to_qimage(pixels: np.ndarray) -> QImage:
    """uint8 [H, W] (grey) or [H, W, 3] (RGB) -> a QImage that owns its pixels."""
    data = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = data.shape[:2]
    if data.ndim == 2:
        return QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    return QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
