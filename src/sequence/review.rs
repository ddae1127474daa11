//! `review:` on an email step: the email becomes a draft the rep approves (in the CLI or by
//! sending it from their own mail client) instead of a send, with an optional deadline.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diag::Diagnostic;
use crate::schedule::Wait;

/// How an email step is reviewed before it goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Review {
    /// How long the draft may wait for the rep, from when it was made; `None`: for ever.
    pub deadline: Option<Wait>,
    /// What a draft past its deadline becomes.
    pub then: ReviewThen,
}

/// What an unsent draft past its deadline becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewThen {
    /// A task for the rep to send or skip it (the draft stays, the lead waits).
    #[default]
    Task,
    /// The step is skipped and the lead moves on.
    Skip,
}

impl ReviewThen {
    /// The name used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewThen::Task => "task",
            ReviewThen::Skip => "skip",
        }
    }
}

/// `review:` as written: `true`/`false`, or a mapping. Read by hand (not `untagged`, which
/// would lose the positions of the mapping's values).
pub(super) enum RawReview {
    Flag(bool),
    Full(RawReviewFull),
}

pub(super) struct RawReviewFull {
    deadline: Option<Spanned<String>>,
    then: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for RawReview {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawReview;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false, or { deadline: 2 business days, then: task | skip }")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawReview, E> {
                Ok(RawReview::Flag(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawReview, A::Error> {
                let mut full = RawReviewFull {
                    deadline: None,
                    then: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "deadline" => full.deadline = Some(map.next_value()?),
                        "then" => full.then = Some(map.next_value()?),
                        other => {
                            return Err(serde::de::Error::unknown_field(
                                other,
                                &["deadline", "then"],
                            ));
                        }
                    }
                }
                Ok(RawReview::Full(full))
            }
        }
        d.deserialize_any(V)
    }
}

/// The step's review, or `None` (no `review:`, or `review: false`); problems go to `problems`.
pub(super) fn review(
    raw: &Spanned<RawReview>,
    file: &str,
    sid: &str,
    problems: &mut Vec<Diagnostic>,
) -> Option<Review> {
    let at = |l: &serde_saphyr::Location, msg: String| {
        Diagnostic::error(
            file,
            Some(l.line() as usize),
            Some(l.column() as usize),
            msg,
        )
    };
    let full = match &raw.value {
        RawReview::Flag(false) => return None,
        RawReview::Flag(true) => {
            return Some(Review {
                deadline: None,
                then: ReviewThen::Task,
            });
        }
        RawReview::Full(f) => f,
    };
    let deadline = full
        .deadline
        .as_ref()
        .and_then(|d| match d.value.parse::<Wait>() {
            Ok(w) if !w.is_zero() => Some(w),
            Ok(_) => {
                problems.push(at(
                    &d.referenced,
                    format!(
                        "step {sid:?}: review deadline {:?} must be longer than zero",
                        d.value
                    ),
                ));
                None
            }
            Err(e) => {
                problems.push(at(
                    &d.referenced,
                    format!("step {sid:?}: review deadline {:?}: {e}", d.value),
                ));
                None
            }
        });
    let then = match &full.then {
        None => ReviewThen::Task,
        Some(t) => match t.value.trim() {
            "task" => ReviewThen::Task,
            "skip" => ReviewThen::Skip,
            other => {
                problems.push(
                    at(
                        &t.referenced,
                        format!("step {sid:?}: review then {other:?} is not task or skip"),
                    )
                    .with_hint("`then: task` gives the rep a task; `then: skip` skips the step"),
                );
                ReviewThen::Task
            }
        },
    };
    if let Some(t) = &full.then
        && full.deadline.is_none()
    {
        problems.push(
            at(
                &t.referenced,
                format!("step {sid:?}: review has `then:` but no `deadline:`"),
            )
            .with_hint("add `deadline: 2 business days` (or drop `then:`)"),
        );
    }
    Some(Review { deadline, then })
}
