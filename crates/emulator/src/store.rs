//! What the emulated Graph remembers: onlineMeetings and calendar events per (tenant, organizer),
//! with the lookups Graph offers on them (`externalId` of `createOrGet`, `$filter` on
//! `joinMeetingIdSettings/joinMeetingId`, event `transactionId`; a join URL names its meeting id,
//! see `meetings`). Both stores are bounded: past their capacity the oldest entry is forgotten,
//! so that a load test creating millions of meetings keeps a flat memory profile, and each
//! insertion costs a few hash-map operations under the emulator's lock. This module owns no wire
//! format.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Instant,
};

use serde_json::Value;
use time::OffsetDateTime;

/// Meetings (and events) each store keeps at most, unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A key scoped to an organizer: tenant id and organizer object id, both lower-cased, then a
/// value compared exactly (a meeting id, an `externalId`...), one string.
fn key(tenant_id: &str, organizer_id: &str, value: &str) -> String {
    let mut key = String::with_capacity(tenant_id.len() + organizer_id.len() + value.len() + 2);
    for part in [tenant_id, "\n", organizer_id, "\n"] {
        key.extend(part.chars().map(|c| c.to_ascii_lowercase()));
    }
    key + value
}

/// A map that keeps at most `capacity` entries, forgetting the oldest insertion first.
struct Bounded<V> {
    capacity: usize,
    next: u64,
    entries: HashMap<Arc<str>, (u64, V)>,
    /// Insertion number and key, oldest first; an item whose entry was removed or replaced
    /// since is stale and skipped.
    order: VecDeque<(u64, Arc<str>)>,
}

impl<V> Bounded<V> {
    fn new(capacity: usize) -> Self {
        Bounded { capacity: capacity.max(1), next: 0, entries: HashMap::new(), order: VecDeque::new() }
    }

    fn is_current(&self, (seq, key): &(u64, Arc<str>)) -> bool {
        self.entries.get(key).is_some_and(|(current, _)| current == seq)
    }

    /// Inserts `value`; returns the entries forgotten to make room.
    fn insert(&mut self, key: Arc<str>, value: V) -> Vec<(Arc<str>, V)> {
        let seq = self.next;
        self.next += 1;
        self.entries.insert(Arc::clone(&key), (seq, value));
        self.order.push_back((seq, key));
        let mut evicted = Vec::new();
        while self.entries.len() > self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            if self.is_current(&oldest) {
                if let Some((_, v)) = self.entries.remove(&oldest.1) {
                    evicted.push((oldest.1, v));
                }
            }
        }
        // Deleted entries leave stale items behind: sweep them before they outnumber the live.
        if self.order.len() > 2 * self.capacity + 16 {
            let order = std::mem::take(&mut self.order);
            self.order = order.into_iter().filter(|item| self.is_current(item)).collect();
        }
        evicted
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    fn remove(&mut self, key: &str) -> Option<(Arc<str>, V)> {
        let (stored_key, (_, value)) = self.entries.remove_entry(key)?;
        Some((stored_key, value))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A stored meeting: canonical form (every enum member, no per-request annotations) kept as
/// compact JSON text, which takes about a sixth of the memory of a `serde_json::Value` (some
/// 2 KB instead of 12 KB) for a few microseconds of parsing per read.
pub(crate) struct StoredMeeting {
    json: Box<str>,
    /// From when `$filter` finds it (creation plus the configured visibility delay).
    pub(crate) visible_at: Instant,
    /// Its index keys, so that forgetting it needs no parsing.
    external_key: Option<Box<str>>,
    join_meeting_id: Option<u64>,
}

impl StoredMeeting {
    /// The meeting as JSON.
    pub(crate) fn meeting(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// A meeting's JSON text, written into a buffer of its usual size at once.
fn compact(meeting: &Value) -> Box<str> {
    let mut buffer = Vec::with_capacity(2048);
    match serde_json::to_writer(&mut buffer, meeting) {
        Ok(()) => String::from_utf8(buffer).unwrap_or_default().into(),
        Err(_) => meeting.to_string().into(),
    }
}

/// A join meeting id as an index key: its digits as a number (Graph's are 10 to 12 digits).
fn join_meeting_number(join_meeting_id: &str) -> Option<u64> {
    let digits = !join_meeting_id.is_empty() && join_meeting_id.len() <= 19;
    join_meeting_id.parse().ok().filter(|_| digits && join_meeting_id.bytes().all(|b| b.is_ascii_digit()))
}

/// onlineMeetings by (tenant, organizer, meeting id), indexed by `externalId` and join meeting
/// id. Join meeting ids are unique across the store ([`MeetingStore::join_meeting_id_taken`]).
pub(crate) struct MeetingStore {
    meetings: Bounded<StoredMeeting>,
    external_ids: HashMap<Box<str>, Arc<str>>,
    join_meeting_ids: HashMap<u64, Arc<str>>,
}

impl Default for MeetingStore {
    fn default() -> Self {
        MeetingStore::new(DEFAULT_CAPACITY)
    }
}

impl MeetingStore {
    pub(crate) fn new(capacity: usize) -> Self {
        MeetingStore {
            meetings: Bounded::new(capacity),
            external_ids: HashMap::new(),
            join_meeting_ids: HashMap::new(),
        }
    }

    /// Stores a new meeting of `organizer_id` (its `id` is in the JSON), indexed by `externalId`
    /// when given and by its join meeting id.
    pub(crate) fn insert(
        &mut self,
        tenant_id: &str,
        organizer_id: &str,
        meeting: &Value,
        external_id: Option<&str>,
        visible_at: Instant,
    ) {
        let text = |pointer: &str| meeting.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
        let meeting_key: Arc<str> = key(tenant_id, organizer_id, text("/id")).into();
        let external_key = external_id.map(|x| Box::<str>::from(key(tenant_id, organizer_id, x)));
        if let Some(x) = &external_key {
            self.external_ids.insert(x.clone(), Arc::clone(&meeting_key));
        }
        let join_meeting_id = join_meeting_number(text("/joinMeetingIdSettings/joinMeetingId"));
        if let Some(number) = join_meeting_id {
            self.join_meeting_ids.insert(number, Arc::clone(&meeting_key));
        }
        let stored = StoredMeeting { json: compact(meeting), visible_at, external_key, join_meeting_id };
        for (evicted_key, evicted) in self.meetings.insert(meeting_key, stored) {
            self.unindex(&evicted_key, &evicted);
        }
    }

    pub(crate) fn get(&self, tenant_id: &str, organizer_id: &str, id: &str) -> Option<&StoredMeeting> {
        self.meetings.get(&key(tenant_id, organizer_id, id))
    }

    /// Replaces a stored meeting by its updated form (same id and join meeting id); `false`
    /// when there is no such meeting.
    pub(crate) fn replace(&mut self, tenant_id: &str, organizer_id: &str, id: &str, meeting: &Value) -> bool {
        let stored = self.meetings.get_mut(&key(tenant_id, organizer_id, id));
        stored.map(|s| s.json = compact(meeting)).is_some()
    }

    pub(crate) fn remove(&mut self, tenant_id: &str, organizer_id: &str, id: &str) -> Option<StoredMeeting> {
        let (meeting_key, stored) = self.meetings.remove(&key(tenant_id, organizer_id, id))?;
        self.unindex(&meeting_key, &stored);
        Some(stored)
    }

    /// The meeting `createOrGet` made for this `externalId`.
    pub(crate) fn by_external_id(
        &self,
        tenant_id: &str,
        organizer_id: &str,
        external_id: &str,
    ) -> Option<&StoredMeeting> {
        let meeting_key = self.external_ids.get(key(tenant_id, organizer_id, external_id).as_str())?;
        self.meetings.get(meeting_key)
    }

    /// The organizer's meeting with this join meeting id.
    pub(crate) fn by_join_meeting_id(
        &self,
        tenant_id: &str,
        organizer_id: &str,
        join_meeting_id: &str,
    ) -> Option<&StoredMeeting> {
        let meeting_key = self.join_meeting_ids.get(&join_meeting_number(join_meeting_id)?)?;
        let scope = key(tenant_id, organizer_id, "");
        meeting_key.starts_with(&scope).then(|| self.meetings.get(meeting_key)).flatten()
    }

    /// Whether a stored meeting (of any organizer) has this join meeting id.
    pub(crate) fn join_meeting_id_taken(&self, join_meeting_id: &str) -> bool {
        join_meeting_number(join_meeting_id).is_some_and(|n| self.join_meeting_ids.contains_key(&n))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.meetings.len()
    }

    /// Drops the index entries of a forgotten meeting, unless they already name another.
    fn unindex(&mut self, meeting_key: &Arc<str>, stored: &StoredMeeting) {
        if let Some(x) = &stored.external_key {
            if self.external_ids.get(x).is_some_and(|k| k == meeting_key) {
                self.external_ids.remove(x);
            }
        }
        if let Some(number) = stored.join_meeting_id {
            if self.join_meeting_ids.get(&number).is_some_and(|k| k == meeting_key) {
                self.join_meeting_ids.remove(&number);
            }
        }
    }
}

/// A calendar event as stored: its JSON without `start` and `end`, which are kept as instants with
/// the time-zone names they were given in, and its `transactionId`.
pub(crate) struct StoredEvent {
    pub(crate) event: Value,
    pub(crate) start: (OffsetDateTime, String),
    pub(crate) end: (OffsetDateTime, String),
    pub(crate) transaction_id: Option<String>,
}

/// Calendar events by (tenant, organizer, event id), indexed by `transactionId`.
pub(crate) struct EventStore {
    events: Bounded<StoredEvent>,
    transactions: HashMap<Box<str>, Arc<str>>,
}

impl Default for EventStore {
    fn default() -> Self {
        EventStore::new(DEFAULT_CAPACITY)
    }
}

impl EventStore {
    pub(crate) fn new(capacity: usize) -> Self {
        EventStore { events: Bounded::new(capacity), transactions: HashMap::new() }
    }

    pub(crate) fn insert(&mut self, tenant_id: &str, organizer_id: &str, id: &str, stored: StoredEvent) {
        let event_key: Arc<str> = key(tenant_id, organizer_id, id).into();
        if let Some(tx) = &stored.transaction_id {
            self.transactions.insert(key(tenant_id, organizer_id, tx).into(), Arc::clone(&event_key));
        }
        let scope_len = event_key.len() - id.len();
        for (evicted_key, evicted) in self.events.insert(event_key, stored) {
            let scope = evicted_key.get(..scope_len).unwrap_or_default();
            self.unindex(scope, &evicted_key, &evicted);
        }
    }

    pub(crate) fn get(&self, tenant_id: &str, organizer_id: &str, id: &str) -> Option<&StoredEvent> {
        self.events.get(&key(tenant_id, organizer_id, id))
    }

    /// The event created with this `transactionId`, while it is still on the calendar.
    pub(crate) fn by_transaction(&self, tenant_id: &str, organizer_id: &str, tx: &str) -> Option<&StoredEvent> {
        let event_key = self.transactions.get(key(tenant_id, organizer_id, tx).as_str())?;
        self.events.get(event_key)
    }

    pub(crate) fn remove(&mut self, tenant_id: &str, organizer_id: &str, id: &str) -> Option<StoredEvent> {
        let (event_key, stored) = self.events.remove(&key(tenant_id, organizer_id, id))?;
        self.unindex(&key(tenant_id, organizer_id, ""), &event_key, &stored);
        Some(stored)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Drops the `transactionId` entry of a forgotten event (`scope`: its key up to the id).
    fn unindex(&mut self, scope: &str, event_key: &Arc<str>, stored: &StoredEvent) {
        if let Some(tx) = &stored.transaction_id {
            let tx_key = format!("{scope}{tx}");
            if self.transactions.get(tx_key.as_str()).is_some_and(|k| k == event_key) {
                self.transactions.remove(tx_key.as_str());
            }
        }
    }
}
