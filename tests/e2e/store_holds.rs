//! Planned pauses (holds) in the store, on both engines: a held step is given back due at the
//! hold's end, its lead's timeline is told once per hold, and `resume` makes it due at once.

use drumbeat::store::{EnrollRequest, HeldStep, HoldScope};

use crate::support::{NOW, for_each_store, lead};

const DAY: i64 = 86_400;

#[tokio::test]
async fn a_held_step_waits_for_the_end_and_resume_brings_it_back() {
    for_each_store(
        "a_held_step_waits_for_the_end_and_resume_brings_it_back",
        |s| async move {
            let record = lead("kim@acme.example");
            let ids = s
                .upsert_leads(std::slice::from_ref(&record), "t", NOW, false)
                .await
                .expect("upsert");
            let req = EnrollRequest {
                lead: ids[0].0,
                email: &record.email,
                first_step: "intro",
                due_at: NOW,
            };
            s.enroll("cold-outbound", &[req], NOW, false)
                .await
                .expect("enroll");
            let id = s
                .add_hold(
                    HoldScope::Mailbox,
                    "ana",
                    (NOW, Some(NOW + 3 * DAY)),
                    "vacation",
                    NOW,
                )
                .await
                .expect("add a hold");
            // Planned ones show too; one that has ended does not.
            s.add_hold(
                HoldScope::Sequence,
                "old",
                (NOW - 2 * DAY, Some(NOW - DAY)),
                "x",
                NOW,
            )
            .await
            .expect("add a hold");
            let holds = s.holds(NOW).await.expect("holds");
            assert_eq!(holds.len(), 1, "{}", s.engine);
            let hold = &holds[0];
            assert_eq!(
                (hold.id, hold.name.as_str(), hold.until_at),
                (id, "ana", Some(NOW + 3 * DAY))
            );
            assert!(hold.is_on(NOW) && !hold.is_on(NOW + 3 * DAY));

            // Held twice (the daemon looked again): the timeline is told once.
            for at in [NOW, NOW + DAY] {
                let leased = s.lease_due("i", at, 10).await.expect("lease");
                assert_eq!(leased.len(), 1, "{} at {at}", s.engine);
                let held = HeldStep {
                    enrollment: leased[0].enrollment,
                    lead: leased[0].lead,
                    sequence: &leased[0].sequence_id,
                    step: "intro",
                    due: at + DAY,
                    hold,
                };
                s.hold_steps("i", &[held], at).await.expect("hold");
                assert!(
                    s.lease_due("i", at + 60, 10)
                        .await
                        .expect("lease")
                        .is_empty()
                );
            }
            let events = s.events_for_lead(ids[0].0).await.expect("events");
            let held: Vec<_> = events.iter().filter(|e| e.kind == "held").collect();
            assert_eq!(held.len(), 1, "{}: {events:?}", s.engine);
            assert_eq!(held[0].mailbox.as_deref(), Some("ana"));

            // Resumed: what waited is due now, and the hold is over.
            let later = NOW + DAY + 120;
            assert_eq!(
                s.resume_holds(HoldScope::Mailbox, "ana", later)
                    .await
                    .expect("resume"),
                1
            );
            assert_eq!(
                s.lease_due("i", later, 10).await.expect("lease").len(),
                1,
                "{}",
                s.engine
            );
            assert!(s.holds(later).await.expect("holds").is_empty());
            assert_eq!(
                s.resume_holds(HoldScope::Mailbox, "ana", later)
                    .await
                    .expect("resume"),
                0
            );
        },
    )
    .await;
}
