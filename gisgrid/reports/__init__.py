"""Reports that leave the screen: the figures as an Excel workbook (:mod:`.workbook`) and
the printable wall map of a township or village, the 公示牌 (:mod:`.wallmap`).

Both read what the dashboard reads: every figure from :mod:`gisgrid.analysis.indicators`,
the net from the store (seen through the caller's scope in the web app).
"""

from __future__ import annotations
