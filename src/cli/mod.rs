//! Subcommands that are more than wiring: `sealq audit` and `sealq
//! explain`. `main.rs` parses their flags (clap) and calls these.

pub mod audit;
pub mod explain;
