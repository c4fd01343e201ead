//! Examples and benchmarks for TAZCOM live in `examples/` and `benches/`; this crate has no API.
