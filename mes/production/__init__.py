"""Production domain: equipment, products, orders, shifts, states, counts, downtime and the ISO 22400 KPIs.

Modules are imported on use, so ``import mes.production`` stays light:
``sync.sync_plant``, ``derive.run_once``, ``kpi.kpis``, ``orders``, ``downtime``,
``shifts``, ``counts.adjust_count``, ``status.line_status``. See docs/mes.md.
"""
