//! End-to-end tests: one test binary (each file in tests/ would link the whole crate again).
//! They run the real `drumbeat` binary on a temporary copy of the shipped files, and the store
//! against real SQLite files and a real PostgreSQL server on loopback (DRUMBEAT_TEST_PG).

mod cli_bad_input;
mod cli_config;
mod cli_control;
mod cli_leads;
mod cli_preview;
mod cli_preview_raw;
mod cli_report;
mod cli_status;
mod cli_templates;
mod cli_usage;
mod cli_validate;
mod daemon_crash;
mod daemon_faults;
mod daemon_pacing;
mod daemon_pg;
mod daemon_run;
mod daemon_send;
mod hostile_output;
mod http;
mod http_api;
mod http_links;
mod http_providers;
mod http_providers_ses;
mod http_server;
mod imap;
mod inbox_classify;
mod inbox_watch;
mod notify;
mod report;
mod report_html;
mod routing;
mod sink;
mod store_claims;
mod store_enrollments;
mod store_http;
mod store_import;
mod store_inbox;
mod store_leads;
mod store_notifications;
mod store_schema;
mod store_suppressions;
mod store_webhooks;
mod support;
mod webhooks_out;
