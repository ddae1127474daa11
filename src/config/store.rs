//! config.toml's `store` and `store_connections`: where the store is and how many
//! connections to it a process opens at most.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::problems::Report;

/// The `store` URL with a sqlite path made absolute against `dir`; the default is
/// `data/drumbeat.db` there.
pub(super) fn url(store: Option<&Spanned<String>>, dir: &Path, report: &mut Report) -> String {
    let Some(s) = store else {
        return sqlite_url(dir, "data/drumbeat.db");
    };
    let v = s.get_ref();
    if let Some(rest) = v
        .strip_prefix("sqlite://")
        .or_else(|| v.strip_prefix("sqlite:"))
    {
        sqlite_url(dir, rest)
    } else if v.starts_with("postgres://") || v.starts_with("postgresql://") {
        v.clone()
    } else {
        let d = report
            .at(s.span(), format!("store {v:?} is neither a sqlite:// nor a postgres:// URL"))
            .with_hint("e.g. store = \"sqlite://data/drumbeat.db\" or \"postgres://drumbeat@localhost/drumbeat\"");
        report.push(d);
        String::new()
    }
}

/// `store_connections`: 2 to 100 (one is taken by the scheduler while a watcher or a request
/// needs another; more than 100 is past PostgreSQL's default `max_connections` alone).
pub(super) fn connections(n: Option<&Spanned<i64>>, report: &mut Report) -> Option<u32> {
    let n = n?;
    match u32::try_from(*n.get_ref()) {
        Ok(v) if (2..=100).contains(&v) => Some(v),
        _ => {
            let d = report
                .at(n.span(), format!("store_connections = {}: must be 2 to 100", n.get_ref()))
                .with_hint("connections per daemon; PostgreSQL's max_connections must cover every daemon's");
            report.push(d);
            None
        }
    }
}

fn sqlite_url(dir: &Path, rest: &str) -> String {
    let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if file == ":memory:" {
        PathBuf::from(file)
    } else {
        dir.join(file)
    };
    let mut url = format!("sqlite://{}", path.display());
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}
