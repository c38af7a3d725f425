"""The ground floor: index names, ids, days, paging, bulk writes, locks and bookmarks.

Every other module of the package builds on these; nothing here imports a module of
this package outside ``core``.
"""
