"""Alarm management (ISA-18.2 / IEC 62682): rules evaluated on the live readings, alarm states, people's
actions. See docs/alarms.md."""
