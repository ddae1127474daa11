//! What a signal does to a lead: the rules the inbox watcher, the provider webhooks and the
//! store share, written once, with no I/O.

/// A soft bounce this many times for one lead (from the inbox or any provider) counts as hard.
pub const SOFT_BOUNCE_LIMIT: i64 = 3;
