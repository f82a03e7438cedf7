//! Writing dependency captures (`deps.jsonl`, per-request and per-task capture files) off the
//! program's critical path.
//!
//! [`json`] turns a call record into its JSON line in one pass, with the `deps.store` value
//! tags, so the Python side spends a few microseconds per record instead of running the pure
//! Python tag walk and `json`'s encoder; [`sink`] writes the bytes without holding the GIL
//! (capture files on a Rust thread of its own), so the disk work runs beside the program
//! instead of contending with it. The tag rules for rare types stay in Python (`deps.store.encode`), called back for
//! any value the fast path does not know.

pub mod json;
pub mod sink;
