//! What the planner knows of an enrollment's touches, and where it goes next.

use serde::Serialize;

use crate::enrollment::TouchState;

/// A step this enrollment already has a touch for (any state).
#[derive(Debug, Clone, Serialize)]
pub struct PastTouch {
    /// Row id.
    pub id: i64,
    /// The step.
    pub step_id: String,
    /// email or task.
    pub kind: TouchKind,
    /// Its state.
    pub state: TouchState,
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

/// What a touch is: an email, or a task for the rep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TouchKind {
    /// An email to the lead.
    Email,
    /// A call, LinkedIn touch or custom task for the rep.
    Task,
}

impl TouchKind {
    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            TouchKind::Email => "email",
            TouchKind::Task => "task",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<TouchKind> {
        [TouchKind::Email, TouchKind::Task]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}
