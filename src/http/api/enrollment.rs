//! A lead's enrollment as `POST /api/leads` answers it: enrolled (by force or not), already
//! in the sequence (with its state now), suppressed, or refused by a rule of `[enrollment]`
//! with the rule's detail.

use serde::Serialize;
use serde_json::Value;

use super::{ApiError, rfc3339};
use crate::catalog::Sequence;
use crate::store::{EnrollOutcome, LeadId, Store};

/// What enrolling one lead of `POST /api/leads` did.
#[derive(Debug, Serialize)]
pub(super) struct EnrollmentResult {
    /// The sequence.
    sequence: String,
    /// enrolled, already-enrolled, suppressed, or the rule that refused: already-active,
    /// recently-contacted, account-cap.
    result: &'static str,
    /// The enrollment's state now (absent for a suppressed address).
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_step: Option<String>,
    /// When the next step is due (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    /// A refusal's detail (`active_in`, `possible_from`, `account`, `cap`), or for a forced
    /// enrollment the rule it overrode (`forced`).
    #[serde(flatten)]
    detail: serde_json::Map<String, Value>,
}

/// A stored lead's enrollment as the API tells it: for a lead already in the sequence, the
/// enrollment's state now.
pub(super) async fn enrollment_result(
    store: &Store,
    seq: &Sequence,
    lead: LeadId,
    outcome: EnrollOutcome,
    due: i64,
) -> Result<EnrollmentResult, ApiError> {
    let mut detail = serde_json::Map::new();
    Ok(match outcome {
        EnrollOutcome::Enrolled(_) | EnrollOutcome::Forced(..) => {
            if let EnrollOutcome::Forced(_, why) = outcome {
                detail.insert("forced".into(), why.to_json());
            }
            EnrollmentResult {
                sequence: seq.id.clone(),
                result: "enrolled",
                state: Some("active".into()),
                next_step: Some(seq.steps[0].id.clone()),
                due_at: rfc3339(Some(due)),
                detail,
            }
        }
        EnrollOutcome::Refused(why) => {
            if let Value::Object(mut m) = why.to_json() {
                m.remove("result");
                detail = m;
            }
            EnrollmentResult {
                sequence: seq.id.clone(),
                result: why.name(),
                state: None,
                next_step: None,
                due_at: None,
                detail,
            }
        }
        EnrollOutcome::AlreadyEnrolled => {
            let current = store
                .enrollments_for_lead(lead)
                .await
                .map_err(ApiError::store)?
                .into_iter()
                .find(|e| e.sequence_id == seq.id);
            EnrollmentResult {
                sequence: seq.id.clone(),
                result: "already-enrolled",
                state: current.as_ref().map(|e| e.state.as_str().to_string()),
                next_step: current.as_ref().and_then(|e| e.next_step_id.clone()),
                due_at: rfc3339(current.and_then(|e| e.next_due_at)),
                detail,
            }
        }
        EnrollOutcome::Suppressed => EnrollmentResult {
            sequence: seq.id.clone(),
            result: "suppressed",
            state: None,
            next_step: None,
            due_at: None,
            detail,
        },
    })
}
