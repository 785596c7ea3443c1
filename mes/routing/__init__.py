"""Job shops: orders that go through many operations (issue 23; docs/routing.md).

- :mod:`mes.routing.routings` — work centres (line, cell, manual station) and product routings
  with versions: operations in sequence or in branches that join, SAM and setup per operation.
- :mod:`mes.routing.operations` — an order that carries a routing: one operation order per step.
- :mod:`mes.routing.reports` — what left an operation: bundle scans (idempotent, out-of-sequence
  flagged, never more out than in), counter and manual bookings; the bundles an order is cut into.
- :mod:`mes.routing.flow` — quantity in, good, scrap, rework and WIP per operation at any moment,
  status, projected finish, bottleneck and late risk (the tracking page and API).
- :mod:`mes.routing.output` — pieces and earned standard minutes per operator and shift,
  efficiency against attended minutes (piece-rate payroll).
- :mod:`mes.routing.sharing` — revocable read-only links to one order's tracking.
- :mod:`mes.routing.stations` — the time model of a work centre from its reports and the calendar.
"""
