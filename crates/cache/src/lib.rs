//! bulkhead-cache (under construction; not yet wired into the gateway).
