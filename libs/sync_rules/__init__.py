"""The sync rule book (DESIGN.md section 5) as pure functions of values.

No module in this package performs I/O, reads a clock or the environment: callers pass ``now``, the
tenant's settings and Pipedrive's field definitions in. Mapper and pusher both use it, so both directions
obey one set of rules.
"""
