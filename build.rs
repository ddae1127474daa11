//! The store's migrations are embedded at compile time (`sqlx::migrate!` in src/store/mod.rs),
//! which does not tell cargo about a migration file added later: without this, a build after a
//! new migration runs the old list, and a test of the schema fails for no reason in the code.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
