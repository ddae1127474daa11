//! Small value types every layer shares, with no I/O: the clock, the stable hash behind seeds,
//! the kinds of event, and what the planner knows of past touches. (`lead`, `enrollment` and
//! `diag` are the other modules of this layer.)

mod clock;
mod days;
mod event;
mod hash;
mod signal;
mod touch;

pub use clock::Clock;
pub use days::{day_start, next_day_start};
pub use event::EventKind;
pub use hash::{fnv1a, spread};
pub use signal::{InboundKind, ProviderKind};
pub use touch::{Next, PastTouch, TouchKind};
