//! Lead routing end to end: `[[route]]` rules and `[groups]` in config.toml give imported
//! leads their owners (round robin shared across runs, weights, caps); `leads assign` and
//! `leads reassign`; a reassigned lead's next email is a new thread from the new owner.

use std::collections::BTreeMap;

use drumbeat::store::Store;

use crate::support::daemon::{at, run_once};
use crate::support::{Project, fresh_pg_store, fresh_sqlite_store, pg_server};

/// A project with three outbox mailboxes (ana, ben, cara; each writes to its own folder),
/// `routes` appended to config.toml, and a two-step sequence `s` (intro, then a threaded
/// follow-up two business days later) that any mailbox may send.
fn project(routes: &str) -> Project {
    let p = Project::shipped();
    let mut config = String::from(
        "store = \"sqlite://data/drumbeat.db\"\ntimezone = \"America/New_York\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n",
    );
    for rep in ["ana", "ben", "cara"] {
        config.push_str(&format!(
            "[[mailbox]]\nname = \"{rep}\"\nfrom = \"{rep}@example.com\"\nsignature = \"{rep}\"\ndaily_cap = 500\noutbox = \"data/outbox-{rep}\"\n"
        ));
    }
    config.push_str(routes);
    p.write("config.toml", config);
    for f in ["cold-outbound.yaml", "inbound-fast.yaml"] {
        let _ = std::fs::remove_file(p.file(&format!("sequences/{f}")));
    }
    p.write(
        "sequences/s.yaml",
        r#"id: s
name: Two steps
window:
  days: [mon-fri]
  hours: "09:00-17:00"
  timezone: America/New_York
steps:
  - id: intro
    wait: 0
    template: cold/intro
  - id: value
    wait: 2 business days
    template: cold/value-add
    thread: true
    no_ask: true
"#,
    );
    p
}

/// Writes `name` with `n` leads `{prefix}{i}@lead{i}.com` and a territory column.
fn leads_csv(p: &Project, name: &str, prefix: &str, n: usize) {
    let mut csv = String::from("email,first_name,company,territory\n");
    for i in 0..n {
        csv.push_str(&format!("{prefix}{i}@lead{i}.com,Lee,Lead {i} Inc,NA\n"));
    }
    p.write(name, csv);
}

/// How many leads each owner has (None: no owner), read from the store.
fn owners(p: &Project) -> BTreeMap<Option<String>, usize> {
    let url = format!("sqlite://{}", p.file("data/drumbeat.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let store = Store::open(&url).await.expect("open the store");
            let mut out = BTreeMap::new();
            for rep in ["ana", "ben", "cara"] {
                let n = store.leads_owned_by(rep).await.expect("owned leads").len();
                if n > 0 {
                    out.insert(Some(rep.to_string()), n);
                }
            }
            let none = store.unowned_leads().await.expect("unowned").len();
            if none > 0 {
                out.insert(None, none);
            }
            store.close().await;
            out
        })
}

fn owner_of(p: &Project, email: &str) -> Option<String> {
    let v = p.ok(&["leads", "show", email, "--json"]).json();
    v["lead"]["owner"].as_str().map(str::to_string)
}

fn count(pairs: &[(&str, usize)]) -> BTreeMap<Option<String>, usize> {
    pairs
        .iter()
        .map(|(r, n)| (Some(r.to_string()), *n))
        .collect()
}

const RULES: &str = r#"
[[route]]
match = { territory = "EMEA" }
to = "ana"
[[route]]
match = { industry = ["fintech", "banking"] }
group = "enterprise"
[[route]]
group = "everyone"
[groups]
enterprise = ["ben", { rep = "cara", weight = 2 }]
everyone = ["ana", "ben"]
"#;

#[test]
fn rules_on_a_csv_with_territories_give_the_expected_owners() {
    let p = project(RULES);
    p.write(
        "leads.csv",
        "email,first_name,territory,industry,owner\n\
         e1@emea.com,Eva,emea,retail,\n\
         f1@bank.com,Finn,NA,Banking,\n\
         f2@bank.com,Fay,NA,fintech,\n\
         f3@bank.com,Flo,APAC,banking,\n\
         o1@other.com,Oli,NA,retail,\n\
         o2@other.com,Ola,,,\n\
         k1@kept.com,Kim,EMEA,retail,cara\n",
    );
    let run = p.ok(&["leads", "import", "leads.csv"]);
    assert!(
        run.stdout.contains("routed 6 leads"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let got: Vec<Option<String>> = [
        "e1@emea.com",
        "f1@bank.com",
        "f2@bank.com",
        "f3@bank.com",
        "o1@other.com",
        "o2@other.com",
        "k1@kept.com",
    ]
    .iter()
    .map(|e| owner_of(&p, e))
    .collect();
    let want = ["ana", "cara", "ben", "cara", "ana", "ben", "cara"];
    let want: Vec<Option<String>> = want.iter().map(|s| Some(s.to_string())).collect();
    assert_eq!(got, want);

    // An owner stays with a lead imported again without one; --owner overrides the rules.
    p.write(
        "again.csv",
        "email,territory\no1@other.com,EMEA\nn1@new.com,EMEA\n",
    );
    p.ok(&["leads", "import", "again.csv", "--owner", "ben"]);
    assert_eq!(owner_of(&p, "n1@new.com").as_deref(), Some("ben"));
    p.write("third.csv", "email,territory\no2@other.com,EMEA\n");
    p.ok(&["leads", "import", "third.csv"]);
    assert_eq!(owner_of(&p, "o2@other.com").as_deref(), Some("ben"));
    // `leads assign EMAIL` runs the rules again.
    let out = p.ok(&["leads", "assign", "o2@other.com", "--json"]).json();
    assert_eq!(owner_of(&p, "o2@other.com").as_deref(), Some("ana"));
    assert_eq!(
        out,
        serde_json::json!({
            "leads": 1, "assigned": 1, "kept": 0, "unmatched": 0, "capped": [],
            "changes": [{ "email": "o2@other.com", "owner": "ana", "from": "ben" }],
        })
    );
    // Again: the rules give the same owner, nothing changes.
    let out = p.ok(&["leads", "assign", "o2@other.com", "--json"]).json();
    assert_eq!(
        (out["assigned"].as_i64(), out["kept"].as_i64()),
        (Some(0), Some(1))
    );
    let out = p
        .ok(&[
            "leads", "reassign", "--from", "cara", "--to", "ben", "--json",
        ])
        .json();
    // cara had f1, f3 and k1.
    assert_eq!(
        out,
        serde_json::json!({ "from": "cara", "to": "ben", "moved": 3 })
    );
    assert_eq!(owner_of(&p, "k1@kept.com").as_deref(), Some("ben"));
}

#[test]
fn round_robin_is_even_within_one_across_1000_leads_and_runs() {
    let p = project("[[route]]\ngroup = \"all\"\n[groups]\nall = [\"ana\", \"ben\", \"cara\"]\n");
    // Three runs of the CLI share the group's cursor through the store.
    leads_csv(&p, "a.csv", "a", 400);
    leads_csv(&p, "b.csv", "b", 350);
    leads_csv(&p, "c.csv", "c", 250);
    for f in ["a.csv", "b.csv", "c.csv"] {
        p.ok(&["leads", "import", f]);
    }
    let got = owners(&p);
    assert_eq!(got.values().sum::<usize>(), 1000, "{got:?}");
    let (min, max) = (got.values().min(), got.values().max());
    assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{got:?}");
    assert!(!got.contains_key(&None), "{got:?}");
}

#[test]
fn weights_give_proportional_shares() {
    let p = project(
        "[[route]]\ngroup = \"team\"\n[groups]\nteam = [\"ana\", { rep = \"ben\", weight = 3 }]\n",
    );
    leads_csv(&p, "a.csv", "a", 1000);
    p.ok(&["leads", "import", "a.csv"]);
    assert_eq!(owners(&p), count(&[("ana", 250), ("ben", 750)]));
}

#[test]
fn a_rep_at_max_open_is_skipped_and_a_full_group_leaves_leads_unowned() {
    let p = project(
        "[[route]]\nmatch = { territory = \"NA\" }\ngroup = \"team\"\n[[route]]\ngroup = \"solo\"\n\
         [groups]\nteam = [{ rep = \"ana\", max_open = 3 }, \"ben\"]\nsolo = [{ rep = \"cara\", max_open = 2 }]\n",
    );
    leads_csv(&p, "a.csv", "a", 10);
    p.ok(&["leads", "import", "a.csv", "--sequence", "s"]);
    assert_eq!(owners(&p), count(&[("ana", 3), ("ben", 7)]));

    p.write(
        "b.csv",
        "email,territory\nb1@b.com,X\nb2@b.com,X\nb3@b.com,X\nb4@b.com,X\nb5@b.com,X\n",
    );
    let run = p.ok(&["leads", "import", "b.csv", "--sequence", "s"]);
    assert!(
        run.stderr
            .contains("3 leads left without an owner: every rep of group \"solo\""),
        "{}",
        run.stderr
    );
    let got = owners(&p);
    assert_eq!(got.get(&Some("cara".into())), Some(&2), "{got:?}");
    assert_eq!(got.get(&None), Some(&3), "{got:?}");
    // Still full: assigning again reports it and changes nothing.
    let run = p.ok(&["leads", "assign", "--all-unowned"]);
    assert!(run.stderr.contains("group \"solo\""), "{}", run.stderr);
    assert_eq!(owners(&p).get(&None), Some(&3));
}

#[test]
fn reassigned_leads_get_their_next_email_as_a_new_thread_from_the_new_owner() {
    let p = project("");
    p.write(
        "one.csv",
        "email,first_name,company\nlee@acme-corp.com,Lee,Acme Corp\n",
    );
    // Tuesday 2026-03-03, 10:00 in New York: the intro goes out from ana.
    let tue = "2026-03-03T15:00:00Z";
    at(
        &p,
        tue,
        &[
            "leads",
            "import",
            "one.csv",
            "--owner",
            "ana",
            "--sequence",
            "s",
        ],
    );
    let (_, next) = run_once(&p, tue);
    let intro = only_message(&p, "ana");
    assert!(intro.contains("From: ana@example.com") || intro.contains("<ana@example.com>"));
    let intro_id = header(&intro, "Message-ID").expect("the intro has a Message-ID");

    let run = p.ok(&["leads", "reassign", "--from", "ana", "--to", "ben"]);
    assert!(
        run.stdout.contains("moved 1 leads from ana to ben"),
        "{}",
        run.stdout
    );
    assert_eq!(owner_of(&p, "lee@acme-corp.com").as_deref(), Some("ben"));

    let next = next.expect("the follow-up is due");
    run_once(&p, &next);
    let follow_up = only_message(&p, "ben");
    assert!(
        follow_up.contains("ben@example.com"),
        "the follow-up leaves from ben:\n{follow_up}"
    );
    assert_eq!(header(&follow_up, "In-Reply-To"), None, "{follow_up}");
    // The new thread keeps the subject the lead knows, without "Re:".
    assert_eq!(
        header(&follow_up, "Subject"),
        header(&intro, "Subject"),
        "{follow_up}"
    );
    assert_eq!(header(&follow_up, "References"), None, "{follow_up}");
    assert!(!follow_up.contains(&intro_id));
    // Nothing more from ana.
    assert_eq!(
        std::fs::read_dir(p.file("data/outbox-ana"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn routing_config_errors_name_the_line() {
    let p = project(
        "[[route]]\nto = \"anna\"\n[[route]]\ngroup = \"sales\"\n[groups]\nempty = []\nteam = [{ rep = \"ben\", weight = 0 }]\n",
    );
    let run = p.run(&["leads", "assign", "--all-unowned"]);
    assert_ne!(run.code, 0);
    let lines = |n: usize, text: &str| {
        run.stderr
            .lines()
            .any(|l| l.contains(&format!("config.toml:{n}:")) && l.contains(text))
    };
    // The three mailboxes take lines 5-22 (4 header lines, 6 per mailbox).
    assert!(lines(24, "\"anna\" is not a mailbox"), "{}", run.stderr);
    assert!(lines(26, "unknown group \"sales\""), "{}", run.stderr);
    assert!(lines(28, "group \"empty\" is empty"), "{}", run.stderr);
    assert!(lines(29, "weight must be"), "{}", run.stderr);
}

/// Two processes taking turns at once never take the same one, on both engines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_turns_are_never_taken_twice() {
    let mut cases = vec![fresh_sqlite_store().await];
    if let Some(server) = pg_server("concurrent_turns_are_never_taken_twice") {
        cases.push(fresh_pg_store(&server).await);
    }
    for case in cases {
        let second = Store::open(&case.url).await.expect("open again");
        let (a, b) = (&case.store, &second);
        let mut taken = Vec::new();
        for _ in 0..25 {
            let (x, y) = tokio::join!(a.take_turns("g", 2, 1), b.take_turns("g", 2, 1));
            taken.push(x.expect("take turns"));
            taken.push(y.expect("take turns"));
        }
        taken.sort_unstable();
        let want: Vec<u64> = (0..50).map(|i| i * 2).collect();
        assert_eq!(taken, want, "{}", case.engine);
        second.close().await;
        case.close().await;
    }
}

/// The one message in `rep`'s outbox folder.
fn only_message(p: &Project, rep: &str) -> String {
    let files: Vec<_> = std::fs::read_dir(p.file(&format!("data/outbox-{rep}")))
        .unwrap_or_else(|e| panic!("outbox of {rep}: {e}"))
        .map(|e| e.expect("an entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0]).expect("read the message")
}

/// A header's value (first line only), when present.
fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or(message);
    head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    })
}

/// A lead posted to the API without an owner is routed; one with an owner keeps it.
#[test]
fn api_leads_without_an_owner_are_routed() {
    const TOKEN: &str = "test-api-token-0123456789";
    let p = project(RULES);
    let token = p.write("api.token", TOKEN);
    p.edit(
        "config.toml",
        "[http]\n",
        &format!("[http]\napi_token = {{ file = \"{}\" }}\n", token.display()),
    );
    let s = crate::support::http::Served::start(&p, "routing-api");
    for body in [
        serde_json::json!({"email": "eu@emea.example", "territory": "EMEA"}),
        serde_json::json!({"leads": [
            {"email": "b1@bank.example", "industry": "banking"},
            {"email": "o1@other.example", "owner": "cara"},
        ]}),
    ] {
        let r = s
            .client
            .post(s.url("/api/leads"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .expect("POST");
        assert!(r.status().is_success(), "{:?}", r.text());
    }
    drop(s);
    assert_eq!(owner_of(&p, "eu@emea.example").as_deref(), Some("ana"));
    assert_eq!(owner_of(&p, "b1@bank.example").as_deref(), Some("cara"));
    assert_eq!(owner_of(&p, "o1@other.example").as_deref(), Some("cara"));
}

/// A lead stored before there were rules gets an owner when it is enrolled.
#[test]
fn enrolling_an_unowned_lead_routes_it() {
    let p = project("");
    p.write("one.csv", "email,territory\nlee@emea.example,EMEA\n");
    p.ok(&["leads", "import", "one.csv"]);
    assert_eq!(owner_of(&p, "lee@emea.example"), None);
    let config = std::fs::read_to_string(p.file("config.toml")).expect("read config.toml");
    p.write("config.toml", format!("{config}{RULES}"));
    p.ok(&["enroll", "s", "lee@emea.example"]);
    assert_eq!(owner_of(&p, "lee@emea.example").as_deref(), Some("ana"));
}

/// On both engines: an import with a sequence routes by caps (counting the leads it enrolls),
/// and a change of owner clears the old owner's mailbox and thread from open enrollments only.
#[tokio::test]
async fn routing_and_owner_changes_in_the_store_on_both_engines() {
    crate::support::for_each_store("routing_and_owner_changes_in_the_store", |case| async move {
        let dir = tempfile::tempdir().expect("a temp dir");
        let text = format!(
            "sequences = {:?}\ntemplates = {:?}\n\
             [[mailbox]]\nname = \"ana\"\nfrom = \"ana@example.com\"\noutbox = \"o\"\n\
             [[mailbox]]\nname = \"ben\"\nfrom = \"ben@example.com\"\noutbox = \"o\"\n\
             [[route]]\ngroup = \"team\"\n[groups]\nteam = [{{ rep = \"ana\", max_open = 2 }}, \"ben\"]\n",
            crate::support::repo().join("sequences").display().to_string(),
            crate::support::repo().join("templates").display().to_string(),
        );
        let config = drumbeat::config::Config::parse(
            &text,
            "config.toml",
            &dir.path().join("config.toml"),
            dir.path(),
        )
        .unwrap_or_else(|d| panic!("{d:?}"));
        let (catalog, _) = drumbeat::catalog::Catalog::load(&config);
        let seq = catalog.sequence("cold-outbound").expect("shipped sequence");
        let csv = dir.path().join("leads.csv");
        let mut rows = String::from("email\n");
        for i in 0..6 {
            rows.push_str(&format!("l{i}@lead{i}.example\n"));
        }
        std::fs::write(&csv, rows).expect("write csv");
        let opts = drumbeat::import::ImportOptions {
            sequence: Some(seq),
            owner: None,
            dry_run: false,
            encoding: None,
            admission: drumbeat::store::Admission::OPEN,
        };
        let now = chrono::DateTime::from_timestamp(crate::support::NOW, 0).expect("an instant");
        let summary = drumbeat::import::import_file(&case, &config, &csv, &opts, now, &|_| {})
            .await
            .expect("import");
        assert_eq!(summary.routing.routed, 6, "{}", case.engine);
        let ana = case.leads_owned_by("ana").await.expect("ana's leads");
        let ben = case.leads_owned_by("ben").await.expect("ben's leads");
        assert_eq!((ana.len(), ben.len()), (2, 4), "{}", case.engine);
        let workload = case.open_workload().await.expect("workload");
        assert_eq!(workload.get("ana"), Some(&2), "{}", case.engine);

        // ana's first lead has a thread from ana; the second one's enrollment is finished.
        let (a0, a1) = (ana[0].id.0, ana[1].id.0);
        case.exec(&format!(
            "UPDATE enrollments SET mailbox = 'ana', thread_subject = 'Hi', thread_message_id = '<m@x>' \
             WHERE lead_id IN ({a0}, {a1})"
        ))
        .await;
        case.exec(&format!(
            "UPDATE enrollments SET state = 'finished' WHERE lead_id = {a1}"
        ))
        .await;
        // ana's open call with her first lead moves with it; a done one stays hers.
        let e0 = case.int(&format!("SELECT id FROM enrollments WHERE lead_id = {a0}")).await;
        for (id, state) in [(1, "open"), (2, "done")] {
            case.exec(&format!(
                "INSERT INTO tasks (id, enrollment_id, lead_id, kind, owner, state, due_at, created_at) \
                 VALUES ({id}, {e0}, {a0}, 'call', 'ana', '{state}', 0, 0)"
            ))
            .await;
        }
        let changes: Vec<_> = ana.iter().map(|l| (l, "ben")).collect();
        assert_eq!(case.change_owners(&changes, crate::support::NOW).await.expect("change"), 2);
        assert_eq!(
            case.rows("SELECT id, owner FROM tasks ORDER BY id").await,
            vec![
                vec![Some("1".to_string()), Some("ben".to_string())],
                vec![Some("2".to_string()), Some("ana".to_string())],
            ],
            "{}",
            case.engine
        );
        // The log says who owns them now, for reports.
        assert_eq!(
            case.int(&format!(
                "SELECT COUNT(*) FROM events WHERE kind = 'assigned' AND mailbox = 'ben' AND lead_id IN ({a0}, {a1})"
            ))
            .await,
            2,
            "{}",
            case.engine
        );
        let rows = case
            .rows(&format!(
                "SELECT lead_id, mailbox, thread_subject, thread_message_id FROM enrollments \
                 WHERE lead_id IN ({a0}, {a1}) ORDER BY lead_id"
            ))
            .await;
        let open = vec![Some(a0.to_string()), None, None, None];
        let done = vec![
            Some(a1.to_string()),
            Some("ana".to_string()),
            Some("Hi".to_string()),
            Some("<m@x>".to_string()),
        ];
        assert_eq!(rows, vec![open, done], "{}", case.engine);
        assert_eq!(case.leads_owned_by("ana").await.expect("ana").len(), 0);
        assert!(case.unowned_leads().await.expect("unowned").is_empty());
        case.close().await;
    })
    .await;
}
