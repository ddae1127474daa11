//! Before a lead's first email, whether its domain can receive mail at all (MX, else A/AAAA;
//! see `dns::LeadDomains`): a lead at a domain that cannot is skipped with the reason, rather
//! than written to, bounced, and counted against the mailbox.

use std::collections::HashMap;

use super::Round;
use crate::daemon::Daemon;
use crate::domain::TouchKind;
use crate::store::PastTouch;

/// Whether the enrollment has had an email yet.
pub(super) fn first_email(past: &[PastTouch]) -> bool {
    !past
        .iter()
        .any(|t| t.kind == TouchKind::Email && t.sent_at.is_some())
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
