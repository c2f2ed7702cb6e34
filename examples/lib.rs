//! Runnable examples live in this folder; see each file.
