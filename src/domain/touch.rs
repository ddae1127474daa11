//! What the planner knows of an enrollment's touches, and where it goes next.

use serde::Serialize;

/// A step this enrollment already has a touch for (any state).
#[derive(Debug, Clone, Serialize)]
pub struct PastTouch {
    /// Row id.
    pub id: i64,
    /// The step.
    pub step_id: String,
    /// email or task.
    pub kind: String,
    /// Its state.
    pub state: String,
    /// Message-ID (emails).
    pub message_id: Option<String>,
    /// Subject sent (emails).
    pub subject: Option<String>,
    /// When it was sent.
    pub sent_at: Option<i64>,
    /// How many times it was handed to a server.
    pub attempt: i64,
    /// The mailbox it left from (emails).
    pub mailbox: Option<String>,
}

/// Where an enrollment goes after a step is done.
#[derive(Debug, Clone)]
pub enum Next {
    /// The next step, and when it is due.
    Step {
        /// Step id.
        id: String,
        /// Due time (unix seconds).
        due_at: i64,
    },
    /// That was the last step.
    Finished,
}
