//! The sending daemon's lanes: the emails of a tick split by mailbox into groups that claim and
//! record in parallel (see `Daemon::send_claimed`).

use std::collections::HashMap;

/// `items` in at most `lanes` groups by `mailbox`: each mailbox's items in one group and in
/// their order, the groups about as big as each other (the biggest mailboxes placed first,
/// each into the smallest group so far), none empty.
pub(super) fn lanes_by_mailbox<T>(
    items: Vec<T>,
    mailbox: impl Fn(&T) -> &str,
    lanes: usize,
) -> Vec<Vec<T>> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for item in &items {
        let m = mailbox(item);
        match counts.iter_mut().find(|(c, _)| c == m) {
            Some((_, n)) => *n += 1,
            None => counts.push((m.to_string(), 1)),
        }
    }
    let lanes = lanes.clamp(1, counts.len().max(1));
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut sizes = vec![0usize; lanes];
    let mut lane_of: HashMap<String, usize> = HashMap::new();
    for (m, n) in counts {
        let smallest = (0..lanes).min_by_key(|&i| sizes[i]).unwrap_or(0);
        sizes[smallest] += n;
        lane_of.insert(m, smallest);
    }
    let mut out: Vec<Vec<T>> = (0..lanes).map(|_| Vec::new()).collect();
    for item in items {
        let lane = lane_of.get(mailbox(&item)).copied().unwrap_or(0);
        out[lane].push(item);
    }
    out.retain(|lane| !lane.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(items: &[&'static str], lanes: usize) -> Vec<Vec<&'static str>> {
        lanes_by_mailbox(items.to_vec(), |m| m, lanes)
    }

    #[test]
    fn a_mailbox_stays_in_one_lane_in_its_order_and_the_lanes_are_balanced() {
        // a: 4, b: 3, c: 2, d: 1 into 2 lanes, biggest first, each into the smaller lane: a
        // into the first (4), b into the second (3), c into the second (3 < 4: 5), d into the
        // first (4 < 5: 5).
        let items = ["a", "b", "a", "c", "b", "a", "d", "c", "b", "a"];
        let lanes = split(&items, 2);
        assert_eq!(lanes.len(), 2);
        assert_eq!(lanes[0], ["a", "a", "a", "d", "a"]);
        assert_eq!(lanes[1], ["b", "c", "b", "c", "b"]);
        // Every item once.
        assert_eq!(lanes.iter().map(Vec::len).sum::<usize>(), items.len());
    }

    #[test]
    fn no_more_lanes_than_mailboxes_and_none_empty() {
        assert_eq!(split(&["a", "a"], 4), vec![vec!["a", "a"]]);
        assert_eq!(split(&["a", "b"], 1), vec![vec!["a", "b"]]);
        assert!(split(&[], 2).is_empty());
        assert_eq!(split(&["a", "b", "c"], 0), vec![vec!["a", "b", "c"]]);
    }
}
