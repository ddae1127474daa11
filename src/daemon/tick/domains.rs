//! Before a lead's first email, whether its domain can receive mail at all (MX, else A/AAAA;
//! see `dns::LeadDomains`): a lead at a domain that cannot is skipped with the reason, rather
//! than written to, bounced, and counted against the mailbox.

use std::collections::HashMap;

use super::Round;
use crate::config::{Mailbox, Transport};
use crate::daemon::Daemon;
use crate::domain::TouchKind;
use crate::store::{PastTouch, StoredLead};

/// Whether the enrollment has had an email yet.
pub(super) fn first_email(past: &[PastTouch]) -> bool {
    !past
        .iter()
        .any(|t| t.kind == TouchKind::Email && t.sent_at.is_some())
}

/// Why `lead`'s email from `mailbox` must not go: its first, to a domain that cannot receive
/// mail (an outbox folder delivers nothing, so nothing bounces there).
pub(super) fn skip_why(
    round: &Round,
    lead: &StoredLead,
    mailbox: &Mailbox,
    past: &[PastTouch],
) -> Option<String> {
    let domain = lead.record.email.domain().to_ascii_lowercase();
    let why = round.dead_domains.get(&domain)?;
    let delivers = !matches!(mailbox.transport, Transport::Outbox { .. });
    (delivers && first_email(past))
        .then(|| format!("skipped before the first email: {domain}: {why}"))
}

impl Daemon {
    /// The domains of the round's leads due their first email that cannot receive mail.
    pub(super) async fn dead_domains(&self, round: &Round) -> HashMap<String, String> {
        let Some(check) = &self.lead_domains else {
            return HashMap::new();
        };
        let domains = round
            .leased
            .iter()
            .filter(|l| first_email(round.past_of(l.enrollment)))
            .filter_map(|l| round.leads.get(&l.lead))
            .map(|lead| lead.record.email.domain());
        check.cannot_receive(domains).await
    }
}
