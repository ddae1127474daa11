//! Helpers of the preview tests: the sample leads enrolled, and `preview --json` read.

use crate::support::Project;
use serde_json::Value;

pub const MARIA: &str = "maria.garcia@northwind.example";

pub const PRIYA: &str = "priya.n@gmail.com";

/// The shipped project with the sample leads enrolled in cold-outbound.
pub fn enrolled() -> Project {
    let p = Project::shipped();
    p.import_sample(&["--sequence", "cold-outbound"]);
    p
}

pub fn preview_json(p: &Project, sequence: &str, lead: &str) -> Value {
    p.ok(&["preview", sequence, "--lead", lead, "--json"])
        .json()
}

pub fn steps(v: &Value) -> &Vec<Value> {
    v["steps"].as_array().expect("steps is a list")
}
