//! bulkhead-limits (under construction; not yet wired into the gateway).
