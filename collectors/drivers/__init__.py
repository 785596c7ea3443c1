"""Protocol drivers. Each is a self-contained package (config use, codec/planner,
client wrapper) known to the scheduler only through :mod:`collectors.drivers.base`."""
