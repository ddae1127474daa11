//! The time math of sending: how long a step waits ([`Wait`]) and when a sequence may send
//! ([`SendWindow`]), in the lead's own time zone and correct across daylight-saving changes.
//!
//! Pure functions only: no I/O and no clock. Callers pass `now`, so the scheduler and
//! `drumbeat preview` agree on every send time, and tests need no waiting.
//!
//! A step planned at `from` goes out at [`SendWindow::due_at`]: the wait is applied first
//! ([`SendWindow::apply_wait`]), then the time moves to the window's next opening
//! ([`SendWindow::next_opening`]).

pub mod holidays;
mod local;
pub mod pacing;
pub mod wait;
pub mod window;

pub use holidays::{Country, CountryError};
pub use wait::{Wait, WaitError, WaitUnit};
pub use window::{SendWindow, Weekdays, WindowError};
