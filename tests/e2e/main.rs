//! End-to-end tests: one test binary (each file in tests/ would link the whole crate again).
//! They run the real `drumbeat` binary on a temporary copy of the shipped files, and the store
//! against real SQLite files and a real PostgreSQL server on loopback (DRUMBEAT_TEST_PG).

mod store_enrollments;
mod store_import;
mod store_leads;
mod store_schema;
mod store_suppressions;
mod support;
