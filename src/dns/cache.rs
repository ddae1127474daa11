//! A small cache of answers per domain: bounded in size, each entry good for a while.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Entries by key, each with the instant it stops being good. When full, the oldest entry
/// goes first (expired ones before it).
#[derive(Debug)]
pub struct TtlCache<V> {
    capacity: usize,
    entries: HashMap<String, (V, Instant)>,
    /// Keys in the order they were first inserted (a key appears once).
    order: VecDeque<String>,
}

impl<V: Clone> TtlCache<V> {
    /// An empty cache holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The value for `key` while it is still good at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(_, until)| now < *until)
            .map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `key` until `now + ttl`, making room when full.
    pub fn insert(&mut self, key: &str, value: V, ttl: Duration, now: Instant) {
        let until = now + ttl;
        if let Some(entry) = self.entries.get_mut(key) {
            *entry = (value, until);
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, until)| now < *until);
            self.order.retain(|k| self.entries.contains_key(k));
        }
        while self.entries.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.entries.insert(key.to_string(), (value, until));
        self.order.push_back(key.to_string());
    }

    /// How many entries are held (good or not yet dropped).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_good_until_its_ttl_then_gone() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(10);
        c.insert("a.test", 1, Duration::from_secs(60), t0);
        assert_eq!(c.get("a.test", t0 + Duration::from_secs(59)), Some(1));
        assert_eq!(c.get("a.test", t0 + Duration::from_secs(60)), None);
        assert_eq!(c.get("b.test", t0), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_then_the_oldest() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(2);
        c.insert("short", 1, Duration::from_secs(1), t0);
        c.insert("long", 2, Duration::from_secs(100), t0);
        let t1 = t0 + Duration::from_secs(5);
        c.insert("new", 3, Duration::from_secs(100), t1);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("long", t1), Some(2), "the expired entry went first");
        c.insert("newer", 4, Duration::from_secs(100), t1);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("long", t1), None, "then the oldest");
        assert_eq!(c.get("new", t1), Some(3));
        assert_eq!(c.get("newer", t1), Some(4));
    }

    #[test]
    fn inserting_a_key_again_replaces_it_without_growing() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(2);
        c.insert("a", 1, Duration::from_secs(10), t0);
        c.insert("a", 2, Duration::from_secs(10), t0);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get("a", t0), Some(2));
    }
}
