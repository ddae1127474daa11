//! Values the daemons share through the store (`settings`), on both engines: made once, by the
//! first caller, and read back by every other.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{NOW, for_each_store};

#[tokio::test]
async fn a_setting_is_made_once_and_every_caller_reads_the_same_value() {
    for_each_store("store_settings", |s| async move {
        let made = AtomicUsize::new(0);
        let make = |v: &'static str| {
            let made = &made;
            move || {
                made.fetch_add(1, Ordering::SeqCst);
                v.to_string()
            }
        };
        // Two callers at once (two daemons starting together): one value for both.
        let (a, b) = tokio::join!(
            s.setting_or_insert("key", make("first"), NOW),
            s.setting_or_insert("key", make("second"), NOW)
        );
        let (a, b) = (a.expect("a"), b.expect("b"));
        assert_eq!(a, b, "{}", s.engine);
        let before = made.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&before),
            "{}: made {before} times",
            s.engine
        );
        // Once stored, it is read back and nothing is made (a new key would need the random
        // source, whose seeding is the costliest part of a command's start).
        let again = s
            .setting_or_insert("key", make("third"), NOW)
            .await
            .expect("again");
        assert_eq!(again, a, "{}", s.engine);
        assert_eq!(
            made.load(Ordering::SeqCst),
            before,
            "{}: made again",
            s.engine
        );
    })
    .await;
}
