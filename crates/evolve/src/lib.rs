//! nasc-evolve — evolutionary architecture search (αNAS and its baselines): mutation, selection,
//! the crash-safe candidate store, workers and reports; and the atomic file writes the command
//! line shares. Built on nasc-core (programs, properties, synthesis) and nasc-burn (training).

pub mod evolve;
pub mod files;
