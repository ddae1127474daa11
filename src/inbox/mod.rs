//! The inbox watcher: reads each mailbox over IMAP, and acts on replies, out-of-office
//! answers, bounces and unsubscribe requests before the next step can go out.

pub mod imap;
