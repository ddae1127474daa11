//! Sending: which mailbox a lead's email leaves from, and the exact message it becomes.
//! `preview` uses the same functions as the daemon, so what it shows is what goes out.

pub mod compose;
pub mod links;
pub mod message;
pub mod oauth;
pub mod provider_tags;
pub mod smtp;
pub mod tokens;
pub mod transport;

use crate::catalog::Sequence;
use crate::config::{Config, Mailbox};

/// What deals a lead with no thread and no owner to one of a sequence's mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deal<'a> {
    /// An enrollment, dealt in turn by its id: leads enrolled together (an import, a batch from
    /// the API) go round the mailboxes like cards, so each mailbox gets its share to within
    /// one. (A hash of the address gave the busiest of 20 mailboxes 31 of 400 leads where 20
    /// was the share, and under `min_gap` the busiest mailbox sets when the last one goes.)
    Enrollment(i64),
    /// An address not enrolled yet (`validate`, a preview before enrolling): by a hash of it.
    Address(&'a str),
}

impl Deal<'_> {
    /// The index in a pool of `n` mailboxes (`n` > 0).
    fn index(self, n: usize) -> usize {
        let n = n as u64;
        let i = match self {
            Deal::Enrollment(id) => id.unsigned_abs() % n,
            Deal::Address(email) => crate::domain::spread(email.as_bytes()) % n,
        };
        usize::try_from(i).unwrap_or(0)
    }
}

/// The mailbox that sends to a lead in a sequence: the mailbox the thread already started
/// from (sticky), else the lead owner's mailbox when the sequence allows it, else one of the
/// sequence's mailboxes (or any configured one) dealt by `deal`, so new leads spread evenly
/// across mailboxes.
pub fn choose_mailbox<'c>(
    config: &'c Config,
    sequence: &Sequence,
    deal: Deal<'_>,
    owner: Option<&str>,
    sticky: Option<&str>,
) -> Option<&'c Mailbox> {
    let allowed =
        |m: &&Mailbox| sequence.mailboxes.is_empty() || sequence.mailboxes.contains(&m.name);
    if let Some(m) = sticky.and_then(|s| config.mailbox(s)) {
        return Some(m);
    }
    if let Some(owner) = owner
        && let Some(m) = config.mailboxes.iter().filter(allowed).find(|m| {
            m.name.eq_ignore_ascii_case(owner) || m.from.as_str().eq_ignore_ascii_case(owner)
        })
    {
        return Some(m);
    }
    let pool: Vec<&Mailbox> = config.mailboxes.iter().filter(allowed).collect();
    if pool.is_empty() {
        return None;
    }
    Some(pool[deal.index(pool.len())])
}

#[cfg(test)]
mod tests {
    use super::Deal;

    fn shares(ids: impl Iterator<Item = i64>, n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for id in ids {
            c[Deal::Enrollment(id).index(n)] += 1;
        }
        c
    }

    #[test]
    fn leads_enrolled_together_are_dealt_to_every_mailbox_within_one_of_its_share() {
        // The bench's case: 400 leads, 20 mailboxes; a hash gave the busiest 31.
        assert_eq!(shares(1..=400, 20), vec![20; 20]);
        for (start, len, n) in [(7_i64, 1_000_i64, 3_usize), (123_457, 55, 7), (1, 5, 8)] {
            let c = shares(start..start + len, n);
            let (lo, hi) = (c.iter().min().unwrap(), c.iter().max().unwrap());
            assert!(hi - lo <= 1, "{start}+{len} over {n}: {c:?}");
        }
    }

    #[test]
    fn an_address_not_enrolled_is_dealt_the_same_every_time() {
        let a = Deal::Address("ana@example.com");
        assert_eq!(a.index(7), a.index(7));
        assert!(a.index(7) < 7);
        assert_eq!(
            Deal::Enrollment(i64::MIN).index(3),
            (i64::MIN.unsigned_abs() % 3) as usize
        );
    }
}
