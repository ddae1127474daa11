//! drumbeat: a self-hosted outreach sequencer. Sequences (YAML) and templates (Tera) live as
//! files in the rep's repo; leads come from spreadsheets; the store (SQLite or PostgreSQL) is
//! the single source of truth. See DESIGN.md for the words and the invariants.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod diag;
pub mod domain;
pub mod enrollment;
pub mod http;
pub mod import;
pub mod inbox;
pub mod lead;
pub mod notify;
pub mod render;
pub mod report;
pub mod routing;
pub mod plan;
pub mod policy;
pub mod schedule;
pub mod send;
pub mod sequence;
pub mod store;
pub mod webhooks;
