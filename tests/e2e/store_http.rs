//! What the HTTP side records, on both engines: clicks and opens group-committed and matched
//! to their email by Message-ID, and providers' webhook events acted on once.

use crate::support::claims::claimed_intros;
use crate::support::{NOW, StoreCase, for_each_store};

/// Stores, enrolls, claims and records as sent the intro of a lead per address (Message-ID
/// `<claim-test-N@example.com>`, N its index); the enrollments wait at a next step. Returns
/// the touches in address order.
async fn sent_intros(s: &StoreCase, addresses: &[&str]) -> Vec<i64> {
    let (_, touches) = claimed_intros(s, addresses).await;
    let next = drumbeat::store::Next::Step {
        id: "value-add".into(),
        due_at: NOW + 86_400,
    };
    for t in &touches {
        s.record_sent(*t, "250 ok", true, &next, NOW)
            .await
            .expect("sent");
    }
    touches
}

/// Clicks and opens recorded in one group commit, on both engines: matched to the email by
/// Message-ID (an unknown one records nothing), a person's click counted as human, a click
/// within seconds of delivery or a second link within a minute of it counted as a scanner's,
/// an image proxy's open flagged.
#[tokio::test]
async fn clicks_and_opens_are_matched_by_message_id_and_scanners_told_apart() {
    for_each_store(
        "clicks_and_opens_are_matched_by_message_id_and_scanners_told_apart",
        |s| async move {
            let touches = sent_intros(&s, &["ada@example.com", "bob@example.com"]).await;
            let hit = |n: usize, link: Option<u16>, why: Option<&'static str>, at: i64| {
                drumbeat::store::Hit {
                    message_id: format!("<claim-test-{n}@example.com>"),
                    link,
                    url: link.map(|l| format!("https://example.com/{l}")),
                    why,
                    at,
                }
            };
            // Ada: a person's click an hour after delivery. Bob: a click 2 s after delivery,
            // then (next batch) another link 20 s after. Opens: a proxy's, and an unknown id.
            s.record_hits(&[
                hit(0, Some(0), None, NOW + 3600),
                hit(1, Some(0), None, NOW + 2),
                hit(0, None, Some("gmail image proxy"), NOW + 3700),
                drumbeat::store::Hit {
                    message_id: "<nobody@example.com>".into(),
                    ..hit(0, Some(1), None, NOW + 10)
                },
            ])
            .await
            .expect("hits");
            s.record_hits(&[hit(1, Some(1), None, NOW + 20)])
                .await
                .expect("hits");
            let rows = s
                .rows(
                    "SELECT touch_id, kind, data FROM events WHERE kind IN ('clicked', 'opened') ORDER BY id",
                )
                .await;
            let got: Vec<(i64, String, serde_json::Value)> = rows
                .into_iter()
                .map(|r| {
                    (
                        r[0].as_deref().expect("touch").parse().expect("id"),
                        r[1].clone().expect("kind"),
                        serde_json::from_str(r[2].as_deref().expect("data")).expect("JSON"),
                    )
                })
                .collect();
            assert_eq!(got.len(), 4, "{}: {got:#?}", s.engine);
            let (ada, bob) = (touches[0], touches[1]);
            let find = |touch: i64, kind: &str, link: Option<u64>| {
                got.iter()
                    .find(|(t, k, d)| {
                        *t == touch && k == kind && d["link"].as_u64() == link
                    })
                    .unwrap_or_else(|| panic!("{}: {touch} {kind} {link:?}: {got:#?}", s.engine))
                    .2
                    .clone()
            };
            let d = find(ada, "clicked", Some(0));
            assert_eq!(d["human"], true, "{}: {d}", s.engine);
            assert_eq!(d["url"], "https://example.com/0");
            let d = find(bob, "clicked", Some(0));
            assert_eq!(d["human"], false, "{}: {d}", s.engine);
            assert_eq!(d["scanner"], "clicked within seconds of delivery");
            let d = find(bob, "clicked", Some(1));
            assert_eq!(d["scanner"], "several links clicked within seconds of delivery", "{}", s.engine);
            let d = find(ada, "opened", None);
            assert_eq!((d["human"].clone(), d["proxy"].clone()), (false.into(), "gmail image proxy".into()));
            s.close().await;
        },
    )
    .await;
}

/// The click writer on both engines: handlers queue hits and go on; once every `Recorder` is
/// dropped, its task ends only after every queued hit is committed (a clean stop loses none).
#[tokio::test]
async fn the_click_writer_commits_every_queued_hit_before_it_ends() {
    for_each_store(
        "the_click_writer_commits_every_queued_hit_before_it_ends",
        |s| async move {
            let touches = sent_intros(&s, &["ada@example.com", "bob@example.com"]).await;
            let (recorder, done) = drumbeat::http::recorder::Recorder::start(s.store.clone());
            // More than one batch (512) and the whole queue (4,096), so that handlers wait
            // for room and several commits happen after the last hit is queued.
            const HITS: usize = 6_000;
            let queue = |from: usize, recorder: drumbeat::http::recorder::Recorder| async move {
                for n in (from..HITS).step_by(2) {
                    recorder
                        .record(drumbeat::store::Hit {
                            message_id: format!("<claim-test-{}@example.com>", n % 2),
                            link: Some(0),
                            url: Some("https://example.com/0".into()),
                            why: None,
                            at: NOW + 3600 + i64::try_from(n).expect("n"),
                        })
                        .await;
                }
            };
            tokio::join!(queue(0, recorder.clone()), queue(1, recorder));
            tokio::time::timeout(std::time::Duration::from_secs(60), done)
                .await
                .expect("the writer ends within a minute")
                .expect("the writer does not panic");
            let rows = s
                .rows("SELECT touch_id, COUNT(*) FROM events WHERE kind = 'clicked' GROUP BY touch_id ORDER BY touch_id")
                .await;
            let got: Vec<(i64, i64)> = rows
                .iter()
                .map(|r| {
                    (
                        r[0].as_deref().expect("touch").parse().expect("id"),
                        r[1].as_deref().expect("count").parse().expect("count"),
                    )
                })
                .collect();
            let half = i64::try_from(HITS / 2).expect("half");
            assert_eq!(got, vec![(touches[0], half), (touches[1], half)], "{}", s.engine);
            s.close().await;
        },
    )
    .await;
}

/// Providers' events on both engines: a hard bounce (by our Message-ID) bounces the lead and
/// suppresses the address, once; the provider's retry is a duplicate and changes nothing; a
/// complaint (by recipient) suppresses; a one-time token seen with another event is a replay.
#[tokio::test]
async fn provider_events_act_once_and_refuse_replays() {
    use drumbeat::store::{ProviderEvent, ProviderKind, ProviderOutcome};
    for_each_store("provider_events_act_once_and_refuse_replays", |s| async move {
        let touches = sent_intros(
            &s,
            &["ada@example.com", "bob@example.com", "cy@example.com"],
        )
        .await;
        let event = |id: &str, kind, mid: Option<&str>, to: Option<&str>, token: Option<&str>| {
            ProviderEvent {
                provider: "mailgun",
                event_id: id.into(),
                kind,
                message_id: mid.map(str::to_string),
                recipient: to.map(str::to_string),
                token: token.map(str::to_string),
                data: serde_json::json!({ "reason": "test" }),
            }
        };
        let bounce = event(
            "ev-1",
            ProviderKind::BounceHard,
            Some("<claim-test-0@example.com>"),
            None,
            Some("tok-1"),
        );
        let first = s.record_provider_event(&bounce, NOW + 60).await.expect("record");
        assert!(
            matches!(&first, ProviderOutcome::Recorded { touch: Some(t), .. } if *t == touches[0]),
            "{}: {first:?}",
            s.engine
        );
        assert_eq!(
            s.record_provider_event(&bounce, NOW + 61).await.expect("retry"),
            ProviderOutcome::Duplicate,
            "{}",
            s.engine
        );
        let replay = event(
            "ev-2",
            ProviderKind::Delivered,
            Some("<claim-test-1@example.com>"),
            None,
            Some("tok-1"),
        );
        assert_eq!(
            s.record_provider_event(&replay, NOW + 62).await.expect("replay"),
            ProviderOutcome::ReplayedToken,
            "{}",
            s.engine
        );
        let complaint = event(
            "ev-3",
            ProviderKind::Complained,
            None,
            Some("bob@example.com"),
            None,
        );
        assert!(matches!(
            s.record_provider_event(&complaint, NOW + 63).await.expect("complaint"),
            ProviderOutcome::Recorded { .. }
        ));
        // Cy: two soft bounces leave the sequence going; the third stops it (the address is
        // kept: a soft bounce never suppresses).
        for n in 1..=3 {
            let soft = event(
                &format!("soft-{n}"),
                ProviderKind::BounceSoft,
                Some("<claim-test-2@example.com>"),
                None,
                None,
            );
            s.record_provider_event(&soft, NOW + 100 + n)
                .await
                .expect("soft bounce");
            let cy = s
                .rows("SELECT e.state FROM enrollments e JOIN leads l ON l.id = e.lead_id WHERE l.email = 'cy@example.com'")
                .await;
            let want = if n < 3 { "active" } else { "bounced" };
            assert_eq!(cy[0][0].as_deref(), Some(want), "{}: after {n}", s.engine);
        }
        let states = s
            .rows("SELECT l.email, e.state FROM enrollments e JOIN leads l ON l.id = e.lead_id WHERE l.email <> 'cy@example.com' ORDER BY l.email")
            .await;
        assert_eq!(
            states,
            vec![
                vec![Some("ada@example.com".into()), Some("bounced".into())],
                vec![Some("bob@example.com".into()), Some("unsubscribed".into())],
            ],
            "{}",
            s.engine
        );
        assert_eq!(
            s.int("SELECT COUNT(*) FROM suppressions WHERE value = 'cy@example.com'").await,
            0,
            "{}: Cy's address is not suppressed",
            s.engine
        );
        let suppressed = s
            .rows("SELECT value, reason FROM suppressions WHERE value <> 'cy@example.com' ORDER BY value")
            .await;
        assert_eq!(
            suppressed,
            vec![
                vec![Some("ada@example.com".into()), Some("bounced".into())],
                vec![Some("bob@example.com".into()), Some("complained".into())],
            ],
            "{}",
            s.engine
        );
        assert_eq!(
            s.int("SELECT COUNT(*) FROM events WHERE kind = 'bounced' AND data LIKE '%\"hard\":true%'").await,
            1,
            "{}: one hard bounce event for Ada despite the retry; Cy's third soft one is no hard bounce",
            s.engine
        );
        s.close().await;
    })
    .await;
}
