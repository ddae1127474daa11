//! The daemon's HTTP server itself: health, and JSON errors for unknown paths.

use crate::http::Served;
use crate::support::Project;

#[test]
fn healthz_reports_the_store_catalog_and_watchers() {
    let p = Project::shipped();
    let s = Served::start(&p, "http-health");
    let r = s
        .client
        .get(s.url("/healthz"))
        .send()
        .expect("GET /healthz");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().expect("JSON");
    assert_eq!(v["status"], "ok", "{v:#}");
    assert_eq!(v["store"], "ok", "{v:#}");
    let shipped = std::fs::read_dir(p.file("sequences"))
        .expect("sequences")
        .count();
    assert_eq!(v["catalog"]["sequences"], shipped as u64, "{v:#}");
    assert!(v["inbox_watchers"].is_array(), "{v:#}");
}

#[test]
fn unknown_paths_get_a_json_404() {
    let p = Project::shipped();
    let s = Served::start(&p, "http-errors");
    let r = s.client.get(s.url("/nope")).send().expect("GET");
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().expect("a JSON error");
    assert_eq!(v["error"], "no such endpoint");
}
