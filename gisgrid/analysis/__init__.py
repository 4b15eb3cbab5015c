"""Analysis: the spatial rules, written once, on the frames a store returns.

``assign`` (who is in which grid), ``checks`` (where the net fails), ``indicators`` (every
per-area figure), ``locate`` and ``search`` (typed answers; the API serialises them).
Nothing here writes to a store except :func:`gisgrid.analysis.assign.assign_store`, through
the store's own typed interface.
"""
