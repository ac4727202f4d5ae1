"""numpy pixels as QImages."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from gui.widgets.pixels import pixels_to_qimage


def test_grey_and_rgb_pixels_keep_their_values() -> None:
    grey = np.array([[0, 128], [200, 255]], dtype=np.uint8)
    image = pixels_to_qimage(grey)
    assert image.format() == QImage.Format.Format_Grayscale8 and (image.width(), image.height()) == (2, 2)
    assert [image.pixelColor(x, y).red() for y in range(2) for x in range(2)] == [0, 128, 200, 255]
    rgb = np.zeros((3, 5, 3), dtype=np.uint8)
    rgb[2, 4] = (10, 20, 30)
    colour = pixels_to_qimage(rgb[:, ::-1][:, ::-1]).pixelColor(4, 2)  # a strided view works too
    assert colour == QColor(10, 20, 30)


def test_the_image_owns_its_pixels() -> None:
    pixels = np.full((4, 4), 7, dtype=np.uint8)
    image = pixels_to_qimage(pixels)
    pixels[:] = 99
    assert image.pixelColor(0, 0).red() == 7
