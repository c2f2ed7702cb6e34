//! bulkhead-observability (under construction; not yet wired into the gateway).
