"""The FROC curve as a PNG, drawn off-screen (Agg canvas; no global matplotlib backend is touched)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from detection.froc import FrocCurve


def froc_png(curve: FrocCurve, points: dict[float, float], title: str) -> bytes:
    """FP per image (log axis) against lesion sensitivity, with the sensitivities at the standard FP rates."""
    figure = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    # The curve's last point is (0 FP, 0 sensitivity), which a log axis cannot show.
    shown = curve.fps_per_image > 0
    axes.step(curve.fps_per_image[shown], curve.sensitivity[shown], where="post", label="FROC")
    axes.plot(list(points), list(points.values()), "o", label="at 0.25…8 FP/image")
    for rate, value in points.items():
        axes.annotate(f"{value:.2f}", (rate, value), textcoords="offset points", xytext=(0, 6), ha="center")
    axes.set_xscale("log")
    axes.set_xlim(0.1, max(10.0, float(curve.fps_per_image.max()) * 1.1))
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("false positives per image")
    axes.set_ylabel("lesion sensitivity")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
