"""Delivery: processes of their own that claim (sink, partition) leases and read the log from each
lease's cursor. Nothing here runs in an ingest process; ingest reads only the reports for /metrics.

- ``leases``: the lease and cursor rows and their conditional writes (the fencing token is the epoch).
- ``fence``: the check a sink's own writes make so a process that lost its lease never writes.
- ``runner``: each sink on a thread and event loop of its own, its calls timed (a blocked sink
  blocks only itself).
- ``worker``: one (sink, partition) under one lease: batch, deliver, advance the cursor.
- ``coordinator``: heartbeat, renewal, claiming and releasing a fair share, housekeeping's lease.
- ``housekeeping``: pruning in small batches and checkpoints, under a lease.
- ``process``: a delivery process's main.
"""
