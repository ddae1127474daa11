//! Helpers for the HTTP tests: a daemon (`drumbeat run`, real clock) serving on a free loopback
//! port of its own, and a real HTTP client (reqwest) that follows no redirects.

use std::process::Child;
use std::time::Duration;

use crate::support::{Project, wait_until};

/// A running daemon and the base URL of its HTTP side. Killed when dropped.
pub struct Served {
    pub base: String,
    pub child: Child,
    pub client: reqwest::blocking::Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `drumbeat run` in `p` and waits (bounded) until `/healthz` answers.
    pub fn start(p: &Project, instance: &str) -> Served {
        let base = p.http_base();
        let child = p.spawn(&["run", "--instance", instance]);
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let served = Served {
            base,
            child,
            client,
        };
        let health = format!("{}/healthz", served.base);
        wait_until("the daemon's HTTP side", Duration::from_secs(30), || {
            served
                .client
                .get(&health)
                .send()
                .is_ok_and(|r| r.status().is_success())
        });
        served
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
