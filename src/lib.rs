//! drumbeat: a self-hosted outreach sequencer. Sequences (YAML) and templates (Tera) live as
//! files in the rep's repo; leads come from spreadsheets; the store (SQLite or PostgreSQL) is
//! the single source of truth. See DESIGN.md for the words and the invariants.
//!
//! # Layers
//!
//! Imports point down this table, never up: a module uses modules of its own row or of the rows
//! below it, and no two modules use each other. The test `layers` (tests/e2e/layers.rs) reads
//! this table and every `crate::…` path in `src/`, and fails on an import that points up.
//!
//! | layer    | modules                                             | what lives there |
//! |----------|-----------------------------------------------------|------------------|
//! | cli      | cli                                                 | argument parsing and printing |
//! | app      | daemon                                              | the scheduler loop over the shared context |
//! | adapters | http, notify, webhooks, crm, inbox, import, routing, report, dns, spam | HTTP endpoints, rep notifications, outgoing webhooks, CRM sync, the IMAP watcher, lead intake and routing, reports, DNS checks, SpamAssassin scores |
//! | context  | context                                             | what every task shares: config, live catalog, store, clock, link key, transports |
//! | send     | send                                                | composing the message on the wire, SMTP and outbox, links and their tokens, OAuth2 access tokens |
//! | store    | store                                               | SQL for both engines; applies effects, decides nothing |
//! | policy   | policy                                              | signal + rules → effect (pure) |
//! | pure     | catalog, plan, render, sequence, schedule, bounce, intent | loaded sequences and templates, the planner, rendering, windows and waits, what a failed delivery means, what a person's reply means |
//! | config   | config                                              | config.toml and secrets |
//! | domain   | domain, lead, enrollment, diag                      | ids, states, event kinds, `Email`, diagnostics (no I/O) |

pub mod bounce;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod context;
pub mod crm;
pub mod daemon;
pub mod diag;
pub mod dns;
pub mod domain;
pub mod enrollment;
pub mod http;
pub mod import;
pub mod inbox;
pub mod intent;
pub mod lead;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod render;
pub mod report;
pub mod routing;
pub mod schedule;
pub mod send;
pub mod sequence;
pub mod spam;
pub mod store;
pub mod webhooks;
